"""Entry point of the describer child process; see :class:`worker._describe.Describer`."""

from worker._describe import serve

if __name__ == "__main__":
    serve()
