"""Visibility storage: Dysco lossy compression and the choice of its bit rate per dataset from a measured
image-noise budget."""
