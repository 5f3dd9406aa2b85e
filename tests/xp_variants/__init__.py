"""Array namespaces made for the tests: variants of real ones that catch misuse."""
