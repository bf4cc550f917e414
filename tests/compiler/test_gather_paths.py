"""The gather backend's chunked paths agree with the masked reference.

Random ELL tables drawn with replacement give every case the plan has to
handle: input blocks with different consumer counts (several plan groups),
input blocks that feed nothing (zero gradient blocks), repeated entries
(multi-edges) and groups whose blocks are or are not a run of consecutive ids.
The chunk budgets are shrunk so that the multi-chunk loops (over output blocks
for the linear layer, over samples for the 1x1 convolution) run too.  The
reference is the ``masked`` backend (dense weight, ``F.linear`` /
``F.conv2d``), in float64.
"""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import functional as XF
from compiler.backends import gather

pytestmark = pytest.mark.usefixtures("one_thread")

TOL = dict(rtol=1e-9, atol=1e-10)


def grads(fn, x, weight, bias, seed):
    """Output and gradients (input, packed weight, bias) of ``fn(x, weight, bias)``."""
    params = [t.detach().clone().requires_grad_(True) for t in (x, weight, bias)]
    y = fn(*params)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    return [y.detach()] + list(torch.autograd.grad(y, params, g))


def assert_agree(a, b):
    for name, u, v in zip(["y", "grad_x", "grad_w", "grad_b"], a, b):
        torch.testing.assert_close(u, v, **TOL, msg=lambda m, name=name: f"{name}: {m}")


def _linear(backend, index):
    return lambda x, w, c: XF.xlinear(x, w, index, c, backend=backend)


def tables(data, out_blocks, in_blocks, d, b, kernel=None):
    index = torch.tensor(
        data.draw(
            st.lists(
                st.lists(st.integers(0, in_blocks - 1), min_size=d, max_size=d),
                min_size=out_blocks,
                max_size=out_blocks,
            )
        ),
        dtype=torch.int64,
    )
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**16)))
    shape = (out_blocks, d, b, b) + ((kernel, kernel) if kernel else ())
    weight = torch.randn(shape, generator=gen, dtype=torch.float64)
    bias = torch.randn(out_blocks * b, generator=gen, dtype=torch.float64)
    return index, weight, bias, gen


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    b=st.sampled_from([1, 2, 4, 8]),
    out_blocks=st.integers(1, 6),
    in_blocks=st.integers(1, 6),
    d=st.integers(1, 4),
    n=st.integers(1, 9),
    budget=st.sampled_from([1, 64, 1 << 19]),
)
def test_linear_gather_matches_masked(data, b, out_blocks, in_blocks, d, n, budget):
    index, weight, bias, gen = tables(data, out_blocks, in_blocks, d, b)
    x = torch.randn(n, in_blocks * b, generator=gen, dtype=torch.float64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gather, "_linear_budget", lambda _b: budget)
        got = grads(
            lambda x, w, c: XF.xlinear(x, w, index, c, backend="gather"), x, weight, bias, 1
        )
    ref = grads(lambda x, w, c: XF.xlinear(x, w, index, c, backend="masked"), x, weight, bias, 1)
    assert_agree(got, ref)


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    b=st.sampled_from([1, 2, 4]),
    out_blocks=st.integers(1, 5),
    in_blocks=st.integers(1, 5),
    d=st.integers(1, 3),
    n=st.integers(1, 5),
    hw=st.sampled_from([(1, 1), (3, 2), (4, 4)]),
    stride=st.sampled_from([1, 2]),
    padding=st.sampled_from([0, 1]),
    budget=st.sampled_from([1, 200, 1 << 20]),
)
def test_conv1x1_gather_matches_masked(
    data, b, out_blocks, in_blocks, d, n, hw, stride, padding, budget
):
    index, weight, bias, gen = tables(data, out_blocks, in_blocks, d, b, kernel=1)
    x = torch.randn((n, in_blocks * b) + hw, generator=gen, dtype=torch.float64)
    conf = dict(stride=stride, padding=padding)

    def run(backend):
        return lambda x, w, c: XF.xconv2d(x, w, index, c, backend=backend, **conf)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gather, "CONV1X1_CHUNK_ELEMENTS", budget)
        got = grads(run("gather"), x, weight, bias, 2)
    assert_agree(got, grads(run("masked"), x, weight, bias, 2))


def test_conv1x1_gather_without_bias_or_input_grad():
    """Only the gradients asked for are formed, and they match the reference."""
    index = torch.tensor([[2, 0], [2, 2], [1, 0]])
    gen = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 2, 4, 4, 1, 1, generator=gen, dtype=torch.float64)
    x = torch.randn(3, 12, 5, 5, generator=gen, dtype=torch.float64)
    g = torch.randn(3, 12, 5, 5, generator=gen, dtype=torch.float64)
    out = {}
    for backend in ("gather", "masked"):
        w = weight.clone().requires_grad_(True)
        y = XF.xconv2d(x, w, index, None, backend=backend)
        out[backend] = (y.detach(), torch.autograd.grad(y, w, g)[0])
    torch.testing.assert_close(out["gather"], out["masked"], **TOL)


def test_linear_gather_float32_goal_shape_block():
    """A wide layer (several chunks of the default budget) in float32 matches the reference."""
    gen = torch.Generator().manual_seed(3)
    index = torch.randint(0, 32, (32, 4), generator=gen)
    weight = torch.randn(32, 4, 32, 32, generator=gen) / 16
    bias = torch.randn(1024, generator=gen)
    x = torch.randn(200, 1024, generator=gen)
    got = grads(lambda x, w, c: XF.xlinear(x, w, index, c, backend="gather"), x, weight, bias, 4)
    ref = grads(lambda x, w, c: XF.xlinear(x, w, index, c, backend="masked"), x, weight, bias, 4)
    for u, v in zip(got, ref):
        torch.testing.assert_close(u, v, rtol=1e-4, atol=1e-4)
