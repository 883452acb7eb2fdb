"""Black-box HTTP tests of verify-service, written from /work/shared/API.md only."""
