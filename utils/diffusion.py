"""Denoising diffusion (week 9): the noise schedule, forward noising, the training loss, and two
samplers, DDPM's ancestral one (Ho et al., 2020) and DDIM's deterministic one with fewer steps
(Song et al., 2021).

Images live in [-1, 1] inside (``x = 2 * image - 1``); :func:`ddpm_sample` and :func:`ddim_sample`
give [0, 1] back, like the week-8 generators' ``sample``. The network predicts the noise
``eps`` that was added: ``model(x_t, t) -> eps_hat``, both ``(N, 1, H, W)``.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.env import model_device
from utils.training import optimizer_step


@dataclass(frozen=True)
class NoiseSchedule:
    """``betas[t]`` for steps ``t = 0..T-1`` and what follows from them: ``alphas = 1 - betas`` and
    their running product ``alpha_bars`` (how much of the clean image is left after ``t + 1`` steps)."""

    betas: torch.Tensor

    def __post_init__(self) -> None:
        b = self.betas
        if not isinstance(b, torch.Tensor) or b.ndim != 1 or len(b) < 1:
            raise ValueError(f"betas must be a non-empty 1-D tensor, got {getattr(b, 'shape', type(b))}")
        if not bool(((b > 0) & (b < 1)).all()):
            raise ValueError("every beta must lie strictly between 0 and 1")

    @property
    def steps(self) -> int:
        return len(self.betas)

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    @property
    def alpha_bars(self) -> torch.Tensor:
        return torch.cumprod(self.alphas.double(), 0).float()


def linear_schedule(steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """DDPM's schedule: betas rising linearly from ``beta_start`` to ``beta_end`` over ``steps``."""
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    return NoiseSchedule(torch.linspace(beta_start, beta_end, steps))


def cosine_schedule(steps: int = 1000, s: float = 0.008) -> NoiseSchedule:
    """Nichol & Dhariwal's (2021) schedule: ``alpha_bar(t) = cos^2(((t/T + s)/(1 + s)) pi/2)``.

    Betas are clipped at 0.999 (the last steps would otherwise be 1).
    """
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    x = torch.linspace(0, steps, steps + 1, dtype=torch.float64) / steps
    f = torch.cos((x + s) / (1 + s) * torch.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(1e-8, 0.999)
    return NoiseSchedule(betas.float())


def _check_steps(t: torch.Tensor, n: int, schedule: NoiseSchedule) -> None:
    if t.dtype != torch.long or t.shape != (n,):
        raise ValueError(
            f"t must be a long tensor with one step per image, shape ({n},), got {t.dtype} {tuple(t.shape)}"
        )
    if len(t) and (int(t.min()) < 0 or int(t.max()) >= schedule.steps):
        raise ValueError(f"steps t must lie in [0, {schedule.steps - 1}]")


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    """The forward process in closed form: ``x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise``."""
    if noise.shape != x0.shape:
        raise ValueError(f"noise {tuple(noise.shape)} and x0 {tuple(x0.shape)} differ in shape")
    _check_steps(t, len(x0), schedule)
    a = schedule.alpha_bars.to(x0.device)[t].view(-1, *([1] * (x0.ndim - 1)))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def noise_step_by_step(
    x0: torch.Tensor, t: int, schedule: NoiseSchedule, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The forward process the long way: ``t + 1`` steps ``x_s = sqrt(1 - beta_s) x_(s-1) + sqrt(beta_s) eps_s``.

    Same distribution as :func:`q_sample` at step ``t`` (what the tests check); for teaching only.
    """
    if not isinstance(t, int) or not 0 <= t < schedule.steps:
        raise ValueError(f"t must be an int in [0, {schedule.steps - 1}], got {t!r}")
    x = x0
    for s in range(t + 1):
        eps = torch.randn(x0.shape, generator=generator).to(x0.device)
        x = (1 - schedule.betas[s]).sqrt() * x + schedule.betas[s].sqrt() * eps
    return x


def diffusion_loss(
    model: nn.Module, x0: torch.Tensor, schedule: NoiseSchedule, generator: torch.Generator | None = None
) -> torch.Tensor:
    """DDPM's simple objective: ``|| eps - model(x_t, t) ||^2`` for a random step ``t`` per image (x0 in [-1, 1])."""
    if x0.ndim != 4:
        raise ValueError(f"x0 must be a batch (N, C, H, W), got {tuple(x0.shape)}")
    t = torch.randint(0, schedule.steps, (len(x0),), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    return F.mse_loss(model(q_sample(x0, t, noise, schedule), t), noise)


def train_diffusion(
    model: nn.Module,
    images: torch.Tensor,
    schedule: NoiseSchedule,
    seconds: float,
    batch_size: int = 128,
    lr: float = 2e-3,
    ema_decay: float = 0.999,
    max_steps: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[nn.Module, pd.DataFrame]:
    """Train ``model`` on ``images`` in [0, 1] for a wall-clock budget of ``seconds`` (or ``max_steps``).

    Adam with a short warm-up then a constant rate; returns an exponential moving average of the
    weights (``ema_decay``, what DDPM samples from) and the per-step history ``step, loss, seconds``.
    The model is trained on its own device; a non-finite loss raises ``NonFiniteLossError``.
    """
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a float batch (N, C, H, W) in [0, 1], got {tuple(images.shape)}")
    if seconds <= 0 and max_steps is None:
        raise ValueError("give a positive time budget in seconds, or max_steps")
    device = model_device(model)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    warmup = 200
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    rows = []
    start = time.perf_counter()
    bar = tqdm(total=max_steps, desc="diffusion", disable=not progress)
    model.train()
    step = 0
    while (max_steps is None or step < max_steps) and (time.perf_counter() - start < seconds or max_steps is not None):
        index = torch.randint(0, len(images), (batch_size,), generator=generator)
        x0 = images[index].to(device) * 2 - 1
        loss = diffusion_loss(model, x0, schedule, generator)
        optimizer_step(loss, optimizer, where=" (the diffusion loss)")
        scheduler.step()
        with torch.no_grad():
            decay = min(ema_decay, (1 + step) / (10 + step))  # a short memory at first, as the weights move fast
            for e, p in zip(ema.state_dict().values(), model.state_dict().values(), strict=True):
                if e.is_floating_point():
                    e.mul_(decay).add_(p.detach(), alpha=1 - decay)
                else:
                    e.copy_(p)
        step += 1
        rows.append({"step": step, "loss": loss.item(), "seconds": time.perf_counter() - start})
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}")
    bar.close()
    model.eval()
    return ema, pd.DataFrame(rows)


def _start(model: nn.Module, n: int, shape: tuple[int, ...], generator: torch.Generator | None) -> torch.Tensor:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    return torch.randn((n, *shape), generator=generator).to(model_device(model))


@torch.no_grad()
def ddpm_sample(
    model: nn.Module,
    schedule: NoiseSchedule,
    n: int,
    shape: tuple[int, ...] = (1, 28, 28),
    generator: torch.Generator | None = None,
    batch_size: int = 500,
) -> torch.Tensor:
    """Ancestral sampling: ``T`` steps from pure noise, each removing the predicted noise and adding a
    little fresh noise (variance ``beta_t``). Returns ``(n, *shape)`` in [0, 1] on the CPU."""
    _start(model, n, (0,), None)  # checks n
    model.eval()
    out = []
    for first in range(0, n, batch_size):
        x = _start(model, min(batch_size, n - first), shape, generator)
        betas, alphas, bars = (v.to(x.device) for v in (schedule.betas, schedule.alphas, schedule.alpha_bars))
        for t in reversed(range(schedule.steps)):
            eps = model(x, torch.full((len(x),), t, device=x.device, dtype=torch.long))
            x = (x - betas[t] / (1 - bars[t]).sqrt() * eps) / alphas[t].sqrt()
            if t > 0:
                x = x + betas[t].sqrt() * torch.randn(x.shape, generator=generator).to(x.device)
        out.append(((x.clamp(-1, 1) + 1) / 2).cpu())
    return torch.cat(out)


def ddim_timesteps(schedule: NoiseSchedule, steps: int) -> list[int]:
    """``steps`` evenly spaced steps from ``T-1`` down to 0: the sub-sequence a DDIM sampler visits."""
    if not isinstance(steps, int) or not 1 <= steps <= schedule.steps:
        raise ValueError(f"steps must be an int in [1, {schedule.steps}], got {steps!r}")
    return sorted({round(float(v)) for v in torch.linspace(0, schedule.steps - 1, steps)}, reverse=True)


@torch.no_grad()
def ddim_sample(
    model: nn.Module,
    schedule: NoiseSchedule,
    n: int,
    steps: int = 50,
    shape: tuple[int, ...] = (1, 28, 28),
    generator: torch.Generator | None = None,
    batch_size: int = 500,
) -> torch.Tensor:
    """DDIM's deterministic sampler (eta = 0) on ``steps`` of the ``T`` steps: at each visited step,
    predict the clean image ``x0_hat`` from the noise estimate and jump to the next visited step along
    the same noise direction. Same trained model, no retraining. Returns ``(n, *shape)`` in [0, 1]."""
    _start(model, n, (0,), None)  # checks n
    model.eval()
    visited = ddim_timesteps(schedule, steps)
    out = []
    for first in range(0, n, batch_size):
        x = _start(model, min(batch_size, n - first), shape, generator)
        bars = schedule.alpha_bars.to(x.device)
        for i, t in enumerate(visited):
            eps = model(x, torch.full((len(x),), t, device=x.device, dtype=torch.long))
            x0 = ((x - (1 - bars[t]).sqrt() * eps) / bars[t].sqrt()).clamp(-1, 1)
            if i + 1 < len(visited):
                nxt = bars[visited[i + 1]]
                eps = (x - bars[t].sqrt() * x0) / (1 - bars[t]).sqrt()  # the noise consistent with the clipped x0
                x = nxt.sqrt() * x0 + (1 - nxt).sqrt() * eps
            else:
                x = x0
        out.append(((x + 1) / 2).cpu())
    return torch.cat(out)
