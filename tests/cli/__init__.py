"""Tests of the command line (codesearch/)."""
