"""The store conformance suite: what every `StorePort` implementation must keep."""
