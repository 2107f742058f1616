"""The recurrent cells of char-rnn-webgpu as the Python scripts see them: the records of
src/cells.ts, read from scripts/cells.json (written by `node scripts/write-cells.mjs`; a test
checks it against the records). Nothing here names a cell: every script asks these functions."""

import json
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cells.json")) as _f:
    CELLS = json.load(_f)


def gates(cell):
    """G, the gate blocks of H rows in weight_ih / weight_hh."""
    return len(CELLS[cell]["gates"])


def carries_c(cell):
    """Whether the cell carries a cell state c besides h (the LSTM)."""
    return CELLS[cell]["state"] == "c"


def extra_bias(cell, H):
    """(name, first row) of the cell's bias kept apart from b_h, inside its gate's rows of
    bias_hh (the GRU's b_hn: rows 2H..3H), or None."""
    e = CELLS[cell]["extraBias"]
    return (e["name"], CELLS[cell]["gates"].index(e["gate"]) * H) if e else None


def torch_module(cell, V, H, L, **kw):
    """torch.nn.<module>(V, H, L, **args, **kw), the module that computes the same cell."""
    import torch

    t = CELLS[cell]["torch"]
    return getattr(torch.nn, t["module"])(V, H, L, **t["args"], **kw)


def own_bias_hh_rows(cell, H, like):
    """1 in the rows of bias_hh that are a parameter of ours (the extra bias's), 0 elsewhere."""
    m = like.new_zeros(like.shape)
    e = extra_bias(cell, H)
    if e:
        m[e[1]:e[1] + H] = 1
    return m
