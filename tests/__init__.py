"""The xnets test suite (a package, so that test folders never shadow the real packages)."""
