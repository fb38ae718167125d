"""`python -m swapctl` runs the command line."""

from swapctl.cli.app import main

main()
