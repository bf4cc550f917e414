"""Input-width checks on every backend, and the measured ``auto`` backend rule.

Issue 13: an input wider or narrower than the layer must be refused by every
backend with the same one-line ``ValueError`` naming both widths (the gather
backend used to ignore extra features silently).  Issue 14: ``auto`` picks
``gather`` only where it beats the dense (masked) math on the CPU.
"""

import pytest
import torch

from compiler import functional as XF
from compiler.backends import gather
from compiler.modules import XConv2d, XLinear

CPU_BACKENDS = ["masked", "gather", "auto"]


def _backends():
    out = list(CPU_BACKENDS)
    try:
        from compiler import kernels

        if kernels.triton_available():
            out.append("triton")
    except Exception:  # triton missing: the triton backend cannot run here
        pass
    return out


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("block", [1, 16])
@pytest.mark.parametrize("got", [48, 40, 16])
def test_linear_refuses_another_width_on_every_backend(backend, block, got):
    if backend == "triton" and block < 16:
        pytest.skip("the triton kernels need block >= 16")
    layer = XLinear(32, 16, degree=16, block=block, backend=backend)
    assert layer(torch.randn(3, 32)).shape == (3, 16)  # the right width works
    msg = (
        rf"^XLinear: input has {got} features \(x shape \(3, {got}\)\), "
        r"the layer expects in_features=32$"
    )
    with pytest.raises(ValueError, match=msg):
        layer(torch.randn(3, got))


@pytest.mark.parametrize("backend", _backends())
@pytest.mark.parametrize("kernel", [1, 3])
@pytest.mark.parametrize("got", [16, 48])
def test_conv_refuses_another_width_on_every_backend(backend, kernel, got):
    layer = XConv2d(32, 16, kernel, padding=kernel // 2, degree=16, block=16, backend=backend)
    assert layer(torch.randn(2, 32, 5, 5)).shape == (2, 16, 5, 5)
    msg = (
        rf"^XConv2d: input has {got} channels \(x shape \(2, {got}, 5, 5\)\), "
        r"the layer expects in_channels=32$"
    )
    with pytest.raises(ValueError, match=msg):
        layer(torch.randn(2, got, 5, 5))
    with pytest.raises(ValueError, match=r"^XConv2d: input must be 4-d"):
        layer(torch.randn(32, 5, 5))


@pytest.mark.parametrize("backend", ["masked", "gather"])
def test_functional_refuses_another_width(backend):
    w = torch.randn(2, 1, 2, 2)
    idx = torch.tensor([[0], [1]])
    plan = gather.gather_plan(idx, 2)
    with pytest.raises(ValueError, match="input has 6 features .* in_features=4"):
        XF.xlinear(torch.randn(1, 6), w, idx, backend=backend, in_width=4)
    with pytest.raises(ValueError, match="input has 6 features .* in_features=4"):
        XF.xlinear(torch.randn(1, 6), w, idx, backend=backend, plan=plan)
    # no width given: too narrow for the table is refused, not an IndexError
    with pytest.raises(ValueError, match="too narrow"):
        XF.xlinear(torch.randn(1, 2), w, idx, backend=backend)
    wc = torch.randn(2, 1, 2, 2, 1, 1)
    with pytest.raises(ValueError, match="input has 6 channels .* in_channels=4"):
        XF.xconv2d(torch.randn(1, 6, 3, 3), wc, idx, backend=backend, in_width=4)
    with pytest.raises(ValueError, match="too narrow"):
        XF.xconv2d(torch.randn(1, 2, 3, 3), wc, idx, backend=backend)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_compiled_network_refuses_wrong_input_width(backend):
    from compiler import compile as compile_spec

    cnn = compile_spec("compiler/specs/tiny-cnn.yaml", backend=backend)
    assert cnn(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"input has 2 channels .* in_channels=1"):
        cnn(torch.randn(2, 2, 28, 28))
    mlp = compile_spec("compiler/specs/tiny-mlp.yaml", backend=backend)
    assert mlp(torch.randn(2, 64)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"input has 256 features .* in_features=64"):
        mlp(torch.randn(2, 16, 16).flatten(1))  # a 16x16 image where 8x8 was built


# -- the auto rule -------------------------------------------------------------------


@pytest.mark.parametrize(
    "in_width,block,degree,kernel,expected",
    [
        (4096, 64, 512, None, "gather"),  # the goal shape: gather is 3-5x dense
        (4096, 32, 512, None, "gather"),
        (1024, 16, 128, None, "gather"),  # the smallest linear block that wins (1.3-1.4x)
        (1024, 8, 128, None, "masked"),  # a near tie (0.8-1.0x): masked
        (1024, 16, 256, None, "masked"),  # density 1/4: the gathers cost more than they save
        (4096, 1, 512, None, "masked"),  # block 1: gather is 5x slower
        (256, 32, 32, (1, 1), "gather"),  # a MobileNet pointwise conv at 1/8
        (128, 16, 16, (1, 1), "masked"),  # a small 1x1 conv: 0.4-0.9x
        (128, 8, 16, (3, 3), "gather"),  # 3x3 at 1/8, block 8: 1.2-1.5x
        (128, 8, 32, (3, 3), "gather"),  # density exactly 1/4 for a spatial kernel
        (128, 16, 64, (3, 3), "masked"),  # density 1/2: a tie at best
        (128, 4, 16, (3, 3), "masked"),
        (64, 16, 64, None, "masked"),  # a dense graph
    ],
)
def test_auto_rule_on_the_cpu(in_width, block, degree, kernel, expected):
    assert XF.auto_backend(in_width, block, degree, kernel_size=kernel, device="cpu") == expected


def test_auto_rule_thresholds_are_the_table():
    for kind, kernel in (("linear", None), ("conv1x1", (1, 1)), ("conv", (3, 3))):
        least, largest = XF.AUTO_RULE[kind]
        width = 1024
        deg = int(largest * width)
        assert XF.auto_backend(width, least, deg, kernel_size=kernel, device="cpu") == "gather"
        assert XF.auto_backend(width, least // 2, deg, kernel_size=kernel, device="cpu") == "masked"
        assert XF.auto_backend(width, least, deg + 1, kernel_size=kernel, device="cpu") == "masked"
    with pytest.raises(TypeError):
        XF.AUTO_RULE["linear"] = (1, 1.0)


def test_auto_rule_prefers_triton_on_cuda_only_when_it_imports():
    assert XF.auto_backend(64, 1, 8, device="cuda", triton_available=True) == "triton"
    assert XF.auto_backend(64, 1, 8, device="cuda", triton_available=False) == "masked"
    assert XF.auto_backend(128, 16, 16, device="cuda", triton_available=False) == "gather"


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU rule")
def test_modules_resolve_auto_by_shape():
    fast = XLinear(256, 64, density=1 / 8, block=32, backend="auto")
    slow = XLinear(256, 64, density=1 / 8, block=1, backend="auto")
    conv = XConv2d(64, 64, 3, density=1 / 4, block=16, backend="auto")
    pointwise = XConv2d(64, 64, 1, density=1 / 4, block=16, backend="auto")
    dense = XConv2d(16, 16, 3, degree=16, backend="auto")
    assert (fast.backend, slow.backend, conv.backend, pointwise.backend, dense.backend) == (
        "gather",
        "masked",
        "gather",
        "masked",  # the same channels as a 1x1 conv: its own threshold
        "masked",
    )
    assert slow.weight.shape == (64, 256)  # the masked layout: a dense parameter
    # to_backend("auto") goes back to the rule's choice without changing the function
    x = torch.randn(3, 256)
    y = slow(x)
    torch.testing.assert_close(slow.to_backend("gather").to_backend("auto")(x), y)
    assert slow.backend == "masked"


def test_functional_auto_is_the_rule_and_computes_the_same():
    torch.manual_seed(0)
    x = torch.randn(3, 128)
    for block, want in ((16, "gather"), (1, "masked")):
        layer = XLinear(128, 32, degree=16, block=block, seed=2)
        assert XF.auto_backend(128, block, 16, device="cpu") == want
        args = (x, layer.weight, layer.index, layer.bias)
        y = XF.xlinear(*args, backend="auto")
        torch.testing.assert_close(y, XF.xlinear(*args, backend=want))
        torch.testing.assert_close(y, x @ layer.dense_weight().T + layer.bias)


def test_functional_conv_auto_reads_the_kernel_from_the_weight():
    torch.manual_seed(0)
    x = torch.randn(2, 64, 6, 6)
    for k, want in ((3, "gather"), (1, "masked")):
        layer = XConv2d(64, 64, k, padding=k // 2, density=1 / 4, block=16, seed=1)
        assert layer.auto_backend() == want
        args = (x, layer.weight, layer.index, layer.bias)
        y = XF.xconv2d(*args, padding=k // 2, backend="auto")
        torch.testing.assert_close(y, XF.xconv2d(*args, padding=k // 2, backend=want))
