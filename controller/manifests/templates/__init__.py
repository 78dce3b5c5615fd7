"""The template library's manifests (package data read by controller.manifests.library)."""
