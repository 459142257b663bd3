"""The emoji-tiny networks and the data access the emoji recipes share (no training loops here).

Module names follow diffusers (down_blocks, attentions, attn2, to_k, to_v, ...) so that ONNX node
names read like a real Stable Diffusion export.
"""

import json
import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent
WORK = ROOT / "work"
DATA = WORK / "emoji-data"
CKPT = Path(os.environ.get("KILN_EMOJI_CKPT", WORK / "ckpt"))  # another folder for trial runs
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


def count_state(state):
    return sum(v.numel() for k, v in state.items() if not k.endswith(("latent_mean", "latent_std")))


# --------------------------------------------------------------------------------------------
# Conditional UNet (teacher, student, fake score): ε-prediction on 4x8x8 latents, cross-attention
# on MiniLM token states with separate key and value contexts (Kiln's hypernetwork points).


def timestep_embedding(t, dim):
    """diffusers' Timesteps(flip_sin_to_cos=True, downscale_freq_shift=0)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class Attention(nn.Module):
    def __init__(self, dim, context=None, heads=4):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context or dim, dim, bias=False)
        self.to_v = nn.Linear(context or dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])

    def forward(self, x, context_k=None, context_v=None):
        b, n, c = x.shape
        ck = x if context_k is None else context_k
        cv = x if context_v is None else context_v
        h = self.heads
        q = self.to_q(x).view(b, n, h, c // h).transpose(1, 2)
        k = self.to_k(ck).view(b, ck.shape[1], h, c // h).transpose(1, 2)
        v = self.to_v(cv).view(b, cv.shape[1], h, c // h).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) * (c // h) ** -0.5, dim=-1) @ v
        return self.to_out[0](a.transpose(1, 2).reshape(b, n, c))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        a, gate = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=2):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, context):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads=max(1, dim // 32))
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, context, heads=max(1, dim // 32))
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, ck, cv):
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), ck, cv)
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    def __init__(self, dim, context):
        super().__init__()
        self.norm = norm(dim)
        self.proj_in = nn.Linear(dim, dim)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(dim, context)])
        self.proj_out = nn.Linear(dim, dim)

    def forward(self, x, ck, cv):
        b, c, hh, ww = x.shape
        h = self.proj_in(self.norm(x).permute(0, 2, 3, 1).reshape(b, hh * ww, c))
        for blk in self.transformer_blocks:
            h = blk(h, ck, cv)
        return x + self.proj_out(h).reshape(b, hh, ww, c).permute(0, 3, 1, 2)


class CrossAttnBlock(nn.Module):
    """One resolution level: resnets[i] followed by attentions[i], then an optional resampler.

    Down blocks return their outputs for the skip connections; up blocks take them (popped from the
    end of `skips`). Calling blocks through forward keeps the exported node names diffusers-like
    (/down_blocks.0/attentions.0/transformer_blocks.0/attn2/to_k/MatMul)."""

    def __init__(self, cins, cout, temb, context, sampler=None):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, cout, temb) for c in cins])
        self.attentions = nn.ModuleList([Transformer2DModel(cout, context) for _ in cins])
        if sampler == "down":
            self.downsamplers = nn.ModuleList([Downsample2D(cout)])
        elif sampler == "up":
            self.upsamplers = nn.ModuleList([Upsample2D(cout)])

    def forward(self, h, emb, ck, cv, skips=None):
        outs = []
        for r, a in zip(self.resnets, self.attentions):
            if skips is not None:
                h = torch.cat([h, skips.pop()], dim=1)
            h = a(r(h, emb), ck, cv)
            outs.append(h)
        if hasattr(self, "downsamplers"):
            h = self.downsamplers[0](h)
            outs.append(h)
        if hasattr(self, "upsamplers"):
            h = self.upsamplers[0](h)
        return h, outs


class MidBlock(nn.Module):
    def __init__(self, c, temb, context):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(c, c, temb), ResnetBlock2D(c, c, temb)])
        self.attentions = nn.ModuleList([Transformer2DModel(c, context)])

    def forward(self, h, emb, ck, cv):
        return self.resnets[1](self.attentions[0](self.resnets[0](h, emb), ck, cv), emb)


class UNet2DConditionModel(nn.Module):
    """Two levels (8x8 and 4x4) with cross-attention at both and in the middle."""

    def __init__(self, ch=(64, 128), context=CONTEXT, latent=4):
        super().__init__()
        c0, c1 = ch
        temb = c0 * 2
        self.ch = ch
        self.conv_in = nn.Conv2d(latent, c0, 3, padding=1)
        self.time_embedding = TimestepEmbedding(c0, temb)
        self.down_blocks = nn.ModuleList([
            CrossAttnBlock([c0], c0, temb, context, "down"),
            CrossAttnBlock([c0], c1, temb, context),
        ])
        self.mid_block = MidBlock(c1, temb, context)
        # skips: conv_in(c0), d0 resnet(c0), d0 down(c0), d1 resnet(c1)
        self.up_blocks = nn.ModuleList([
            CrossAttnBlock([c1 + c1, c1 + c0], c1, temb, context, "up"),
            CrossAttnBlock([c1 + c0, c0 + c0], c0, temb, context),
        ])
        self.conv_norm_out = norm(c0)
        self.conv_out = nn.Conv2d(c0, latent, 3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, encoder_hidden_states_v):
        ck, cv = encoder_hidden_states, encoder_hidden_states_v
        # [B], [1] or rank-0 timesteps all broadcast to the batch (Kiln feeds each flavour)
        t = timestep.reshape(-1).expand(sample.shape[0])
        emb = self.time_embedding(timestep_embedding(t, self.ch[0]))
        h = self.conv_in(sample)
        skips = [h]
        for blk in self.down_blocks:
            h, outs = blk(h, emb, ck, cv)
            skips += outs
        h = self.mid_block(h, emb, ck, cv)
        for blk in self.up_blocks:
            h, _ = blk(h, emb, ck, cv, skips)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


# --------------------------------------------------------------------------------------------
# Evaluator: image -> (caption-space embedding, style logits)


class EmojiEvaluator(nn.Module):
    def __init__(self, ch=(16, 32, 64), dim=CONTEXT):
        super().__init__()
        layers, cin = [], 3
        for c in ch:
            layers += [nn.Conv2d(cin, c, 3, padding=1), norm(c), nn.SiLU(),
                       nn.Conv2d(c, c, 3, padding=1), norm(c), nn.SiLU(), nn.AvgPool2d(2)]
            cin = c
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(ch[-1] * 16, 256)
        self.image_projection = nn.Linear(256, dim)
        self.style_head = nn.Linear(256, len(STYLES))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, image):
        h = F.silu(self.proj(self.features(image).flatten(1)))
        return F.normalize(self.image_projection(h), dim=-1), self.style_head(h)


# --------------------------------------------------------------------------------------------
# Consistency decoder: pixels conditioned on the (per-channel normalised, upsampled) VAE latent


class ConsistencyDecoderUNet(nn.Module):
    """Input c_in*x_t [B,3,32,32], t [B] (cosine-schedule steps), raw latents [B,4,8,8]."""

    def __init__(self, ch=(32, 64), latent_mean=(0, 0, 0, 0), latent_std=(1, 1, 1, 1), factor=4):
        super().__init__()
        c0, c1 = ch
        temb = c0 * 2
        self.c0, self.factor = c0, factor
        self.register_buffer("latent_mean", torch.tensor(latent_mean, dtype=torch.float32).view(1, 4, 1, 1))
        self.register_buffer("latent_std", torch.tensor(latent_std, dtype=torch.float32).view(1, 4, 1, 1))
        self.time_embedding = TimestepEmbedding(c0, temb)
        self.conv_in = nn.Conv2d(3 + 4, c0, 3, padding=1)
        self.down0 = ResnetBlock2D(c0, c0, temb)
        self.down_sample0 = Downsample2D(c0, c1)
        self.down1 = ResnetBlock2D(c1, c1, temb)
        self.mid = ResnetBlock2D(c1, c1, temb)
        self.up1 = ResnetBlock2D(c1 + c1, c1, temb)
        self.up_sample1 = Upsample2D(c1, c0)
        self.up0 = ResnetBlock2D(c0 + c0, c0, temb)
        self.conv_norm_out = norm(c0)
        self.conv_out = nn.Conv2d(c0, 3, 3, padding=1)

    def forward(self, sample, timestep, latents):
        z = (latents - self.latent_mean) / self.latent_std
        z = F.interpolate(z, scale_factor=float(self.factor), mode="nearest")
        emb = self.time_embedding(timestep_embedding(timestep, self.c0))
        h0 = self.down0(self.conv_in(torch.cat([sample, z], dim=1)), emb)
        h1 = self.down1(self.down_sample0(h0), emb)
        h = self.mid(h1, emb)
        h = self.up_sample1(self.up1(torch.cat([h, h1], dim=1), emb))
        h = self.up0(torch.cat([h, h0], dim=1), emb)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def consistency_coefficients(t):
    """c_skip, c_out, c_in of OpenAI's consistency decoder at integer steps t of its discrete table."""
    ac = consistency_alphas_cumprod()[t.long()]
    sigma = torch.sqrt(1 / ac - 1)
    sd = 0.5
    c_skip = torch.sqrt(1 / ac) * sd ** 2 / (sigma ** 2 + sd ** 2)
    c_out = sigma * sd / torch.sqrt(sigma ** 2 + sd ** 2)
    c_in = torch.sqrt(1 / ac) / torch.sqrt(sigma ** 2 + sd ** 2)
    return ac, c_skip, c_out, c_in


def consistency_alphas_cumprod(n=1024, max_beta=0.999):
    """betas_for_alpha_bar over the cosine ᾱ, as OpenAI's consistencydecoder builds its table."""
    f = lambda s: math.cos((s + 0.008) / 1.008 * math.pi / 2) ** 2
    betas = [min(1 - f((i + 1) / n) / f(i / n), max_beta) for i in range(n)]
    return torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), 0).float()
