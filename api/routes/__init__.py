"""One router per resource; every operation has a tag and a stable operation id."""
