"""This machine's offline container path (see README.md here); not part of the template."""
