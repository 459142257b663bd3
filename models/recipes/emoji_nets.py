"""The emoji-tiny networks and the data access the emoji recipes share (no training loops here).

Module names follow diffusers (down_blocks, attentions, attn2, to_k, to_v, ...) so that ONNX node
names read like a real Stable Diffusion export.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
DATA = WORK / "emoji-data"
CKPT = WORK / "ckpt"
STYLES = ("noto", "fluent", "twemoji")
GENERATOR_STYLES = ("noto", "fluent")  # Twemoji is the unseen style: never used for generators
CONTEXT = 384
MAX_TOKENS = 32


# --------------------------------------------------------------------------------------------
# Data


def load_index(data=DATA):
    return [json.loads(line) for line in open(data / "index.jsonl")]


def load_images(rows, data=DATA):
    """uint8 [N,3,32,32], cached next to the dataset (decoding 5000 PNGs takes a while)."""
    from PIL import Image
    cache = data / "images.npy"
    if cache.exists():
        allimg = np.load(cache)
    else:
        allrows = load_index(data)
        allimg = np.stack([np.asarray(Image.open(data / r["file"]).convert("RGB")).transpose(2, 0, 1)
                           for r in allrows])
        np.save(cache, allimg)
    pos = {r["file"]: i for i, r in enumerate(load_index(data))}
    return torch.from_numpy(allimg[[pos[r["file"]] for r in rows]])


def to_signed(u8):
    return u8.float() / 127.5 - 1.0


def select(rows, styles, split):
    return [r for r in rows if r["style"] in styles and r["split"] == split]


# --------------------------------------------------------------------------------------------
# Schedules


def scaled_linear_alphas_cumprod(n=1000, beta_start=0.00085, beta_end=0.012):
    betas = torch.linspace(beta_start ** 0.5, beta_end ** 0.5, n, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def cosine_alpha_bar(t):
    """OpenAI consistency decoder's schedule over 1024 steps (t in steps, may be a tensor)."""
    return torch.cos(((t / 1024 + 0.008) / 1.008) * math.pi / 2) ** 2


# --------------------------------------------------------------------------------------------
# Building blocks


def norm(c):
    return nn.GroupNorm(min(8, c), c, eps=1e-6)


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb=0):
        super().__init__()
        self.norm1 = norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout) if temb else None
        self.norm2 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if self.time_emb_proj is not None:
            h = h + self.time_emb_proj(F.silu(emb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.conv_shortcut is None else self.conv_shortcut(x)) + h


class Downsample2D(nn.Module):
    def __init__(self, c, cout=None):
        super().__init__()
        self.conv = nn.Conv2d(c, cout or c, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, c, cout=None):
        super().__init__()
        self.conv = nn.Conv2d(c, cout or c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


# --------------------------------------------------------------------------------------------
# VAE: 3x32x32 in [-1,1] <-> 4x8x8


class Encoder(nn.Module):
    def __init__(self, ch=(32, 64, 64), latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch[0], 3, padding=1)
        blocks = []
        for i, c in enumerate(ch):
            cin = ch[max(i - 1, 0)]
            blocks.append(ResnetBlock2D(cin, c))
            if i < len(ch) - 1:
                blocks.append(Downsample2D(c))
        self.down_blocks = nn.Sequential(*blocks)
        self.mid_block = ResnetBlock2D(ch[-1], ch[-1])
        self.conv_norm_out = norm(ch[-1])
        self.conv_out = nn.Conv2d(ch[-1], 2 * latent, 3, padding=1)

    def forward(self, x):
        h = self.mid_block(self.down_blocks(self.conv_in(x)))
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, ch=(64, 64, 32), latent=4):
        super().__init__()
        self.conv_in = nn.Conv2d(latent, ch[0], 3, padding=1)
        self.mid_block = ResnetBlock2D(ch[0], ch[0])
        blocks = []
        for i, c in enumerate(ch):
            blocks.append(ResnetBlock2D(c, c))
            if i < len(ch) - 1:
                blocks.append(Upsample2D(c, ch[i + 1]))
        self.up_blocks = nn.Sequential(*blocks)
        self.conv_norm_out = norm(ch[-1])
        self.conv_out = nn.Conv2d(ch[-1], 3, 3, padding=1)

    def forward(self, z):
        h = self.up_blocks(self.mid_block(self.conv_in(z)))
        return self.conv_out(F.silu(self.conv_norm_out(h)))


class AutoencoderKL(nn.Module):
    def __init__(self, enc=(16, 32, 64), dec=(64, 48, 32)):
        super().__init__()
        self.encoder = Encoder(enc)
        self.decoder = Decoder(dec)

    def encode(self, x):
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30, 20)

    def forward(self, x, generator=None):
        mean, logvar = self.encode(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator)
        return self.decoder(z), mean, logvar


def count(m):
    return sum(p.numel() for p in m.parameters())
