"""The domain: rules of verification, with no framework, database or Redis imports."""
