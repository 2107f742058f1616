#!/usr/bin/env python3
"""Reference numbers from the tutorial's own numpy code, for test/tutorial.test.ts.

The forward_pass / backward_pass / predict below are the tutorial's (rnn-from-scratch),
unchanged but for taking the weights as arguments. The weights are drawn once from numpy's
seeded generator, scaled by 0.1 as the tutorial does, and rounded to multiples of 2**-16 so
that float32 holds them exactly. Writes test/fixtures/tutorial-hello.json.

    python3 scripts/tutorial_reference.py     (needs numpy)
"""
import json
import os

import numpy as np

text = "hello"
chars = sorted(list(set(text)))
char_to_idx = {c: i for i, c in enumerate(chars)}
idx_to_char = {i: c for i, c in enumerate(chars)}


def one_hot_encode(char, char_to_idx):
    one_hot = np.zeros(len(char_to_idx))
    one_hot[char_to_idx[char]] = 1
    return one_hot


input_chars = text[:-1]
target_chars = text[1:]
input_vectors = [one_hot_encode(c, char_to_idx) for c in input_chars]
target_vectors = [char_to_idx[c] for c in target_chars]

hidden_size = 3
input_size = len(input_vectors[0])
output_size = len(char_to_idx)

rng = np.random.default_rng(2024)
q = lambda a: np.round(a * 65536) / 65536
W_xh = q(rng.standard_normal((hidden_size, input_size)) * 0.1)
W_hh = q(rng.standard_normal((hidden_size, hidden_size)) * 0.1)
b_h = q(rng.standard_normal(hidden_size) * 0.1)  # nonzero, so db_h is tested against something
W_hy = q(rng.standard_normal((output_size, hidden_size)) * 0.1)
b_y = q(rng.standard_normal(output_size) * 0.1)
initial = {k: v.copy() for k, v in dict(W_xh=W_xh, W_hh=W_hh, b_h=b_h, W_hy=W_hy, b_y=b_y).items()}


def forward_pass(input_vectors, target_vectors):
    h = np.zeros(hidden_size)
    total_loss = 0
    h_prevs, h_list, p_list = [], [], []
    for x, t_idx in zip(input_vectors, target_vectors):
        h_prevs.append(h.copy())
        h = np.tanh(W_xh @ x + W_hh @ h + b_h)
        y = W_hy @ h + b_y
        exp_y = np.exp(y - np.max(y))
        p = exp_y / exp_y.sum()
        total_loss += -np.log(p[t_idx])
        h_list.append(h.copy())
        p_list.append(p)
    total_loss /= len(input_vectors)
    return total_loss, h_prevs, h_list, p_list


def backward_pass(input_vectors, target_vectors, h_prevs, h_list, p_list):
    dW_xh = np.zeros_like(W_xh)
    dW_hh = np.zeros_like(W_hh)
    dW_hy = np.zeros_like(W_hy)
    db_h = np.zeros_like(b_h)
    db_y = np.zeros_like(b_y)
    dh_next = np.zeros(hidden_size)
    for t in reversed(range(len(input_vectors))):
        dy = p_list[t].copy()
        dy[target_vectors[t]] -= 1
        dW_hy += np.outer(dy, h_list[t])
        db_y += dy
        dh = W_hy.T @ dy + dh_next
        dtanh = dh * (1 - h_list[t] ** 2)
        dW_xh += np.outer(dtanh, input_vectors[t])
        dW_hh += np.outer(dtanh, h_prevs[t])
        db_h += dtanh
        dh_next = W_hh.T @ dtanh
    return dW_xh, dW_hh, db_h, dW_hy, db_y


def predict(seed_char, n_chars=4):
    h = np.zeros(hidden_size)
    current_char = seed_char
    result = seed_char
    for _ in range(n_chars):
        x = one_hot_encode(current_char, char_to_idx)
        h = np.tanh(W_xh @ x + W_hh @ h + b_h)
        y = W_hy @ h + b_y
        exp_y = np.exp(y - np.max(y))
        p = exp_y / exp_y.sum()
        next_idx = np.argmax(p)
        next_char = idx_to_char[next_idx]
        result += next_char
        current_char = next_char
    return result


flat = lambda a: [float(v) for v in np.asarray(a).ravel()]
loss0, h_prevs, h_list0, p_list0 = forward_pass(input_vectors, target_vectors)
grads0 = backward_pass(input_vectors, target_vectors, h_prevs, h_list0, p_list0)

# The tutorial's training loop: SGD, lr 0.01, 1000 epochs.
losses = []
for epoch in range(1000):
    total_loss, h_prevs, h_list, p_list = forward_pass(input_vectors, target_vectors)
    dW_xh, dW_hh, db_h, dW_hy, db_y = backward_pass(input_vectors, target_vectors, h_prevs, h_list, p_list)
    lr = 0.01
    for W, dW in [(W_xh, dW_xh), (W_hh, dW_hh), (W_hy, dW_hy)]:
        W -= lr * dW
    b_h -= lr * db_h
    b_y -= lr * db_y
    losses.append(float(total_loss))

out = {
    "source": "scripts/tutorial_reference.py (the tutorial's numpy code)",
    "text": text,
    "chars": chars,
    "char_to_idx": char_to_idx,
    "input_vectors": [flat(v) for v in input_vectors],
    "target_vectors": target_vectors,
    "initial": {k: flat(v) for k, v in initial.items()},
    "step0": {
        "loss": float(loss0),
        "hs": [flat(h) for h in h_list0],
        "ps": [flat(p) for p in p_list0],
        "grads": {f"d{k}": flat(g) for k, g in zip(["W_xh", "W_hh", "b_h", "W_hy", "b_y"], grads0)},
    },
    "train1000": {
        "losses": losses,
        "final": {k: flat(v) for k, v in dict(W_xh=W_xh, W_hh=W_hh, b_h=b_h, W_hy=W_hy, b_y=b_y).items()},
        "predict_h": predict("h"),
    },
}
path = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "tutorial-hello.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path), "loss0", loss0, "final loss", losses[-1], "predict", out["train1000"]["predict_h"])
