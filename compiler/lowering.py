"""``network_graph``: the network graph of a model name or a spec, lowered without modules."""

from __future__ import annotations

from .spec import load_spec

__all__ = ["network_graph", "check_model_name"]


def check_model_name(source: str) -> None:
    """Refuse a source that is neither a model name nor a spec, in one line."""
    from . import models

    try:
        models.parse_name(source)
    except ValueError:
        raise ValueError(
            f"{source}: neither a model name (see `xnet models`) nor a spec file "
            "(a spec must end in .yaml, .yml or .json)"
        ) from None


def network_graph(source, input_shape=None):
    """The network graph of a model name (``xnet models``) or a spec, lowered without modules.

    The same :class:`expandergraph.network.NetworkGraph` that :func:`compile` certifies
    (same fingerprint), built from the spec alone: no torch modules, no certificate.

    Examples
    --------
    >>> net = network_graph("x-resnet-20")
    >>> net.widths["input"], net.widths["output"]
    (3, 10)
    """
    from pathlib import Path

    from expandergraph.network import NetworkGraph
    from expandergraph.spec import iter_layers, layer_graph

    if not isinstance(source, (str, Path)) or (
        str(source).lower().endswith((".yaml", ".yml", ".json")) or Path(source).is_file()
    ):
        spec = load_spec(source, input_shape)  # a spec file, a raw mapping or a loaded spec
    else:
        from . import models

        check_model_name(source)
        opts = {} if input_shape is None else {"input_shape": list(input_shape)}
        spec = load_spec(models.spec(source, **opts))
    graphs = {layer.where: layer_graph(layer) for layer in iter_layers(spec) if layer.has_graph}
    return NetworkGraph.from_spec(spec, graphs)
