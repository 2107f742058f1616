"""The run's optimizer and learning-rate schedule in torch, as char-rnn-webgpu computes them
(src/cpu/engine.ts, src/schedule.ts), and its state mapped both ways: Adam's m, v and step
count, sgd's momentum buffer, adagrad's and rmsprop's squared sums. Used by train_pytorch.py."""

import math

import torch


class OurAdagrad(torch.optim.Optimizer):
    """min-char-rnn's Adagrad, as src/cpu/engine.ts: m += g*g; w -= lr*g/sqrt(m + eps)."""

    def __init__(self, params, lr, eps):
        super().__init__(params, dict(lr=lr, eps=eps))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                s = self.state[p]
                if "sum" not in s:
                    s["sum"] = torch.zeros_like(p)
                s["sum"].addcmul_(p.grad, p.grad)
                p.addcdiv_(p.grad, (s["sum"] + group["eps"]).sqrt(), value=-group["lr"])


def make_optimizer(cfg, named):
    """The run's optimizer over the trainable tensors; AdamW's decay on the matrices only."""
    o, params = cfg["optimizer"], [p for _, p in named]
    if o == "sgd":
        return torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"])
    if o == "adagrad":
        return OurAdagrad(params, cfg["lr"], cfg["eps"])
    if o == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg["lr"], alpha=cfg["alpha"], eps=cfg["eps"])
    betas = (cfg["beta1"], cfg["beta2"])
    if o == "adam":
        return torch.optim.Adam(params, lr=cfg["lr"], betas=betas, eps=cfg["eps"])
    matrices = [p for n, p in named if "weight" in n]
    biases = [p for n, p in named if "weight" not in n]
    return torch.optim.AdamW([{"params": matrices, "weight_decay": cfg["weightDecay"]}, {"params": biases, "weight_decay": 0.0}],
                             lr=cfg["lr"], betas=betas, eps=cfg["eps"])


def step_count_like(opt_class, t, **kw):
    """Our step count t in the type this torch keeps `step` in (an int or a tensor, by version)."""
    p = torch.nn.Parameter(torch.zeros(1))
    p.grad = torch.zeros(1)
    o = opt_class([p], lr=0.0, **kw)
    o.step()
    s = o.state[p]["step"]
    return torch.tensor(float(t), dtype=s.dtype) if torch.is_tensor(s) else int(t)


def set_optimizer_state(opt, cfg, named, m, v, t):
    """Our m, v (by PyTorch's keys) and step count t into the optimizer's state."""
    o = cfg["optimizer"]
    for n, p in named:
        like = lambda x: x.to(p.device, p.dtype).reshape(p.shape).clone()
        if o == "sgd" and cfg["momentum"] > 0: opt.state[p] = {"momentum_buffer": like(m[n])}
        if o == "adagrad": opt.state[p] = {"sum": like(m[n])}
        if o == "rmsprop": opt.state[p] = {"step": step_count_like(torch.optim.RMSprop, t), "square_avg": like(m[n])}
        if o in ("adam", "adamw"):
            opt.state[p] = {"step": step_count_like(torch.optim.Adam, t), "exp_avg": like(m[n]), "exp_avg_sq": like(v[n])}


def optimizer_state(opt, cfg, named):
    """The inverse: m and v by PyTorch's keys (zeros where the optimizer keeps nothing)."""
    key_m = {"sgd": "momentum_buffer", "adagrad": "sum", "rmsprop": "square_avg", "adam": "exp_avg", "adamw": "exp_avg"}[cfg["optimizer"]]
    key_v = "exp_avg_sq" if cfg["optimizer"] in ("adam", "adamw") else None
    m, v = {}, {}
    for n, p in named:
        s = opt.state.get(p, {})
        m[n] = s.get(key_m, torch.zeros_like(p)).detach().cpu()
        v[n] = s.get(key_v, torch.zeros_like(p)).detach().cpu() if key_v else torch.zeros_like(p).cpu()
    return m, v


def lr_at(step, c):
    """src/schedule.ts: the learning rate of step `step` (0-based)."""
    if c["schedule"] == "step":
        return c["lr"] * c["decayRate"] ** (step // c["decayEvery"])
    if c["schedule"] == "cosine":
        if step < c["warmup"]:
            return c["lr"] * (step + 1) / c["warmup"]
        progress = min(1.0, (step - c["warmup"]) / max(1, c["steps"] - c["warmup"] - 1))
        return c["minLr"] + (c["lr"] - c["minLr"]) * (1 + math.cos(math.pi * progress)) / 2
    return c["lr"]
