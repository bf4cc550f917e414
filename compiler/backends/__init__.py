"""The backends of the expander layers, one module each, behind :mod:`compiler.functional`.

* :mod:`compiler.backends.masked`: the reference, dense masked math;
* :mod:`compiler.backends.gather`: the fast CPU path (gathers and batched matmuls);
* :mod:`compiler.backends.triton`: the block-sparse Triton kernels of :mod:`compiler.kernels`.

All read the ELL layout of :mod:`compiler.layout` and compute the same function
and gradients up to floating-point rounding.  Callers use
:func:`compiler.functional.xlinear` / :func:`compiler.functional.xconv2d`, which
validate the arguments once and dispatch.
"""
