"""Pulumi ComponentResources, one per file, named for what they deploy."""
