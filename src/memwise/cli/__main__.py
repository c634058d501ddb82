"""`python -m memwise.cli ...` runs the command line, like the `memwise` script."""

from memwise.cli import main

main()
