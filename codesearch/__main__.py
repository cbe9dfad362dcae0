"""`python -m codesearch`: the same command line as the `codesearch` console script."""
from codesearch.cli import main

main()
