#!/usr/bin/env python3
"""Reference numbers from PyTorch for the recurrent cells, for test/cells.test.ts.

For each cell of scripts/cells.json (the records of src/cells.ts) with 2 layers, in float64: a
model `rnn = torch.nn.<module>(V, H, 2, batch_first=True, **args)` plus `out = torch.nn.Linear(H, V)` on
one-hot characters, fixed weights, one batch of B streams x T steps from h = 0; the loss (mean
of -log p over the T*B positions), the gradient of every tensor under this project's convention
(summed over timesteps, averaged over streams: T times the gradient of the mean loss), and the
weights and losses of 3 Adam steps on that same batch (state reset each step).

The tensors are written under this project's names (src/model.ts):
  W_xh.l = weight_ih_l{l}   (G*H, input)      gates in PyTorch's order: lstm i f g o, gru r z n
  W_hh.l = weight_hh_l{l}   (G*H, H)
  b_h.l  = bias_ih_l{l} + bias_hh_l{l}        (but in an extra bias's gate rows: bias_ih there)
  b_hn.l = bias_hh_l{l}[2H:3H]                (a cell's extra bias, gru's: inside r * (W_hn h + b_hn))
  W_hy   = out.weight (V, H), b_y = out.bias (V)
This project holds one bias per gate where PyTorch holds two, so the model here has bias_hh = 0
(except an extra bias, gru's b_hn) and keeps it there (its gradient is zeroed before each Adam step): Adam then
moves the same parameters in both. Weights are drawn from torch's seeded generator and rounded to
multiples of 2**-16, so that float32 holds them exactly. Writes test/fixtures/torch-{cell}-L2.json.

    /usr/bin/python3 scripts/torch_reference.py      (needs torch: apt-get install python3-torch)
"""
import json
import os

import torch

from charrnn_cells import CELLS, extra_bias, own_bias_hh_rows, torch_module

torch.set_default_dtype(torch.float64)

TEXT = "the cat sat on the mat; the dog ate the hat.\n"
H, L, B, T = 6, 2, 2, 9
ADAM = {"lr": 0.01, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}


def batch(text):
    """B contiguous streams, the first T inputs and targets of each, time-major (t*B + b)."""
    chars = sorted(set(text))
    ids = [chars.index(c) for c in text]
    n = (len(ids) - 1) // B
    inputs = [ids[b * n + t] for t in range(T) for b in range(B)]
    targets = [ids[b * n + t + 1] for t in range(T) for b in range(B)]
    return chars, inputs, targets


def model(cell, V):
    torch.manual_seed(list(CELLS).index(cell) + 1)  # the cell's position in the records: rnn 1, lstm 2, gru 3, ...
    rnn = torch_module(cell, V, H, L, batch_first=True)
    out = torch.nn.Linear(H, V)
    q = lambda t: torch.round(t * 65536) / 65536
    with torch.no_grad():
        for name, p in list(rnn.named_parameters()) + list(out.named_parameters()):
            p.copy_(q(p * 2))  # uniform(-2/sqrt(H), 2/sqrt(H)): pre-activations well into the nonlinearities
            if name.startswith("bias_hh"):
                p.mul_(own_bias_hh_rows(cell, H, p))
    return rnn, out


def frozen_mask(cell, name, p):
    """1 where a PyTorch tensor element is one of this project's parameters."""
    return own_bias_hh_rows(cell, H, p) if name.startswith("bias_hh") else torch.ones_like(p)


def ours(cell, rnn, out, grads=False):
    """The tensors (or their gradients) under this project's names, as flat lists."""
    get = (lambda p: p.grad) if grads else (lambda p: p.detach())
    r, extra = {}, extra_bias(cell, H)
    for l in range(L):
        w_ih, w_hh = getattr(rnn, f"weight_ih_l{l}"), getattr(rnn, f"weight_hh_l{l}")
        b_ih, b_hh = getattr(rnn, f"bias_ih_l{l}"), getattr(rnn, f"bias_hh_l{l}")
        r[f"W_xh.{l}"] = get(w_ih)
        r[f"W_hh.{l}"] = get(w_hh)
        # the gradient of a bias that appears in both is either one (they are equal); an extra
        # bias's rows of bias_hh are its own, not b_h's
        r[f"b_h.{l}"] = get(b_ih) if grads else get(b_ih) + get(b_hh) * (1 - own_bias_hh_rows(cell, H, b_hh))
        if extra:
            r[f"{extra[0]}.{l}"] = get(b_hh)[extra[1]:extra[1] + H]
    r["W_hy"] = get(out.weight)
    r["b_y"] = get(out.bias)
    return {k: [float(x) for x in v.reshape(-1)] for k, v in r.items()}


def loss_of(rnn, out, inputs, targets, V):
    x = torch.nn.functional.one_hot(torch.tensor(inputs).reshape(T, B).T, V).double()  # (B, T, V)
    y, _ = rnn(x)
    logits = out(y)  # (B, T, V)
    tgt = torch.tensor(targets).reshape(T, B).T
    return torch.nn.functional.cross_entropy(logits.reshape(B * T, V), tgt.reshape(-1))


def reference(cell):
    chars, inputs, targets = batch(TEXT)
    V = len(chars)
    rnn, out = model(cell, V)
    params = ours(cell, rnn, out)
    loss = loss_of(rnn, out, inputs, targets, V)
    (loss * T).backward()  # summed over time, mean over streams
    grads = ours(cell, rnn, out, grads=True)

    named = list(rnn.named_parameters()) + [("out.weight", out.weight), ("out.bias", out.bias)]
    opt = torch.optim.Adam([p for _, p in named], lr=ADAM["lr"], betas=(ADAM["beta1"], ADAM["beta2"]), eps=ADAM["eps"])
    losses = []
    for _ in range(3):
        opt.zero_grad()
        l = loss_of(rnn, out, inputs, targets, V)
        losses.append(float(l))
        (l * T).backward()
        for name, p in named:
            p.grad.mul_(frozen_mask(cell, name, p))
        opt.step()
    return {
        "source": "scripts/torch_reference.py, torch " + torch.__version__ + ", float64",
        "cell": cell, "layers": L, "H": H, "V": V, "B": B, "T": T,
        "vocab": chars, "text": TEXT, "inputs": inputs, "targets": targets,
        "params": params, "loss": float(loss), "grads": grads,
        "adam": ADAM, "adam_losses": losses, "after_adam": ours(cell, rnn, out),
    }


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for cell in CELLS:
        path = os.path.join(here, "..", "test", "fixtures", f"torch-{cell}-L2.json")
        with open(path, "w") as f:
            json.dump(reference(cell), f, indent=1)
            f.write("\n")
        print("wrote", os.path.relpath(path))
