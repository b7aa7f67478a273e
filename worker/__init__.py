"""The job runner: claims jobs, drives controllers, runs evaluations on Ray. Built later."""
