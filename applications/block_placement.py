"""Where a self-supervised block replaces a conv unit of a host model.

The paper inserts one block in place of the host model's penultimate conv
layer (Sec. 4.3) and, in its ablation (Table 8), at earlier decoder stages.
Each application declares its candidate sites ("early", "middle", "late", and
for DRAEM "bottleneck"); `BlockPlacement` decides at each site whether the
host's conv unit stays or the chosen block (`SSMCTB` or `SSPCAB`) takes its
place, names the block `block_<position>`, and remembers each block's input
and output so the models can score with the block's own error (Sec. 3.1).
"""

from keras_ssmctb.layers import SSMCTB
from keras_ssmctb.layers import SSPCAB

BLOCK_TYPES = ("ssmctb", "sspcab")
BLOCK_POSITIONS = ("early", "middle", "late")
_MANAGED_BLOCK_KWARGS = ("name", "output_error", "data_format", "filters")


def _as_positions(block_position, allowed):
    positions = [block_position] if isinstance(block_position, str) else block_position
    if not isinstance(positions, (list, tuple)) or not positions:
        raise ValueError(
            f"`block_position` must be one of {allowed} or a non-empty list of them. "
            f"Received: block_position={block_position!r}"
        )
    for position in positions:
        if position not in allowed:
            raise ValueError(
                f"`block_position` must be one of {allowed} or a list of them. "
                f"Received: block_position={block_position!r}"
            )
    if len(set(positions)) != len(positions):
        raise ValueError(
            f"`block_position` lists a position twice. Received: block_position={block_position!r}"
        )
    return tuple(positions)


class BlockPlacement:
    """Puts the chosen self-supervised block at the requested sites.

    Validates the block arguments every application shares, then, while the
    host model is built, answers each `site(...)` call either with the host's
    own conv unit or with a block named `block_<position>`.

    Args:
        block: "ssmctb", "sspcab" or None (the baseline host model).
        block_position: one position or a list of positions, each in
            `allowed_positions`.
        block_kwargs: dict of constructor arguments for the block (e.g.
            `{"dilation": 4}`); `name`, `output_error`, `data_format` and
            `filters` are set by the model.
        allowed_positions: the sites the host model offers.
    """

    def __init__(self, block, block_position="late", block_kwargs=None, allowed_positions=BLOCK_POSITIONS):
        if block is not None and block not in BLOCK_TYPES:
            raise ValueError(
                f"`block` must be one of {BLOCK_TYPES} or None. Received: block={block!r}"
            )
        self.positions = _as_positions(block_position, tuple(allowed_positions))
        if block_kwargs is None:
            block_kwargs = {}
        if not isinstance(block_kwargs, dict):
            raise ValueError(f"`block_kwargs` must be a dict or None. Received: block_kwargs={block_kwargs!r}")
        managed = sorted(set(block_kwargs) & set(_MANAGED_BLOCK_KWARGS))
        if managed:
            raise ValueError(
                f"`block_kwargs` may not set {managed}: the model names the block "
                f"`block_<position>`, reads its error map itself and fixes its "
                f"width and data format. Received: block_kwargs={block_kwargs!r}"
            )
        self.block = block
        self.block_kwargs = dict(block_kwargs)
        self.allowed_positions = tuple(allowed_positions)
        self.sites = {}
        self.block_io = {}

    def site(self, position, inputs, replaced, host_unit):
        """Build one candidate site and return its output tensor.

        Args:
            position: the site's position name.
            inputs: the site's input tensor.
            replaced: name prefix of the host layers the block replaces.
            host_unit: function `tensor -> tensor` building the host's unit
                (only called when no block goes here).
        """
        self.sites[position] = replaced
        if self.block is None or position not in self.positions:
            return host_unit(inputs)
        block_class = SSMCTB if self.block == "ssmctb" else SSPCAB
        layer = block_class(name=f"block_{position}", **self.block_kwargs)
        outputs = layer(inputs)
        self.block_io[position] = (inputs, outputs)
        return outputs

    def check_complete(self):
        missing = [p for p in self.allowed_positions if p not in self.sites]
        if missing:
            raise RuntimeError(f"The host model declared no site for {missing}.")

