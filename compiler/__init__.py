"""compiler: lower certified expander layer graphs into PyTorch modules."""
