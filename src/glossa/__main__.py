"""`python -m glossa` is the same as the `glossa` command."""

from glossa.cli import main

main()
