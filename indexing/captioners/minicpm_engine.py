"""Batched MiniCPM-V-4.5 captioning in stages, built from the remote code's own pieces.

`model.chat` runs one batch start to finish on one thread: CPU image processing, then the vision
tower on every frame at once, then transformers' `generate` one launch-bound step at a time. Here
the same work is split so that the stages can overlap and each can be made fast:

1. `encode` (CPU, run by the caller's worker threads, one clip per task): the chat template and the
   remote processor exactly as `chat` calls them; `merge` then pads the clips together the way the
   processor pads a batch (left, id 0).
2. `embed` (GPU): the vision pass (the remote code's SigLIP and resampler modules) on chunks of
   clips, so that it never holds more than `chunk_frames` frames, then the remote code's
   `get_vllm_embedding` with those vision rows. `vision_rows` calls SigLIP on frames of one size at
   a time and computes their position ids once per size, where the remote code's own vision loop
   copies a GPU mask to the host once per frame (a sync that drains the GPU queue); packed
   conversations get their own rows (`spread_group_rows`). `sdpa_vision` swaps the SigLIP attention
   the remote code forces to eager for PyTorch's fused SDPA (same function; checked against eager
   in float32).
3. `generate`: greedy decoding with the logits processing `chat` asks transformers for
   (repetition penalty 1.03, `min_new_tokens`, stop at `<|im_end|>` / `<|endoftext|>`, pad 0).
   `cache="dynamic"` is transformers' `generate` itself; `cache="static"` keeps the KV cache in one
   preallocated buffer, and on CUDA replays each decode step from a captured CUDA graph (one launch
   instead of ~1,000), with grouped-query attention done without copying the keys four times.

Nothing here changes the model's weights or files; patches are undone when each call returns.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections.abc import Iterator, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from vidrag.storage.errors import BackendUnavailable

logger = logging.getLogger(__name__)

CHAT_GENERATION = {"temperature": 0.7, "do_sample": False, "top_p": 0.8, "top_k": 100, "repetition_penalty": 1.03}
"""What `chat(sampling=True, do_sample=False)` asks `generate` for (greedy: the warpers are unused)."""
PLACEHOLDER = "(<image>./</image>)"
GQA_ATTENTION = "vidrag_sdpa_gqa"
KV_BYTES_PER_TOKEN_LAYER = 2 * 2  # keys and values, bf16


@dataclass
class Encoded:
    """One clip's processor output (batch of one), on the CPU."""

    input_ids: Any  # (1, L) int32
    image_bound: Any  # (images, 2)
    pixel_values: list[Any]
    tgt_sizes: Any
    temporal_ids: list[list[int]]
    groups: int


@dataclass
class Batch:
    """Clips padded together, as the processor pads a batch."""

    input_ids: Any
    attention_mask: Any
    image_bound: list[Any]
    pixel_values: list[list[Any]]
    tgt_sizes: list[Any]
    temporal_ids: list[list[list[int]]]
    layout: list[tuple[int, int]]  # (frames, groups) per clip


@dataclass
class Stats:
    """Where one call's time went (seconds) and how many decode steps it ran."""

    embed_s: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    steps: int = 0
    clips: int = 0
    prompt_tokens: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.decode_s / max(self.steps, 1)


def conversation_prompt(tokenizer: Any, msgs: list[dict[str, Any]]) -> tuple[str, list[Any]]:
    """The prompt text and images `chat` builds for one conversation (images become placeholders)."""
    from PIL import Image

    copy_msgs = deepcopy(msgs)
    images: list[Any] = []
    for msg in copy_msgs:
        content = msg["content"] if isinstance(msg["content"], list) else [msg["content"]]
        parts = []
        for item in content:
            if isinstance(item, Image.Image):
                images.append(item)
                parts.append(PLACEHOLDER)
            elif isinstance(item, str):
                parts.append(item)
        msg["content"] = "\n".join(parts)
    text = tokenizer.apply_chat_template(copy_msgs, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    return text, images


def encode(
    processor: Any,
    msgs: list[dict[str, Any]],
    temporal_ids: list[list[int]],
    dtype: Any,
    text_lock: Any = None,
) -> Encoded:
    """Run the remote processor on one conversation, as `chat` does; pixels cast to the model dtype.

    This is the processor's own `__call__` in its two steps, so that the image work runs in parallel
    threads while the tokenizer (a Rust object that must not be entered twice at once) runs under
    `text_lock`.
    """
    text_lock = text_lock if text_lock is not None else contextlib.nullcontext()
    with text_lock:
        text, images = conversation_prompt(processor.tokenizer, msgs)
    image_inputs = processor.image_processor(
        [images], do_pad=True, max_slice_nums=1, temporal_ids=[temporal_ids], return_tensors="pt"
    )
    with text_lock:
        out = processor._convert_images_texts_to_inputs(
            image_inputs, [text], max_slice_nums=1, use_image_id=False, max_length=16384,
            temporal_ids=[temporal_ids], return_tensors="pt",
        )  # fmt: skip
    return Encoded(
        input_ids=out["input_ids"], image_bound=out["image_bound"][0],
        pixel_values=[p.to(dtype) for p in out["pixel_values"][0]], tgt_sizes=out["tgt_sizes"][0],
        temporal_ids=temporal_ids, groups=len(temporal_ids),
    )  # fmt: skip


def merge(items: Sequence[Encoded]) -> Batch:
    """Left-pad the clips' ids with 0 and shift their image bounds, as the processor does."""
    import torch

    longest = max(item.input_ids.shape[-1] for item in items)
    ids = torch.zeros((len(items), longest), dtype=items[0].input_ids.dtype)
    bounds = []
    for row, item in enumerate(items):
        length = item.input_ids.shape[-1]
        ids[row, longest - length :] = item.input_ids[0]
        bounds.append(item.image_bound + (longest - length))
    return Batch(
        input_ids=ids, attention_mask=ids.ne(0), image_bound=bounds,
        pixel_values=[item.pixel_values for item in items], tgt_sizes=[item.tgt_sizes for item in items],
        temporal_ids=[item.temporal_ids for item in items],
        layout=[(len(item.pixel_values), item.groups) for item in items],
    )  # fmt: skip


def _sdpa_forward(self: Any, hidden_states: Any, attention_mask: Any = None, output_attentions: bool = False) -> Any:
    """SigLIP attention through `scaled_dot_product_attention` (same inputs, mask and scale as eager)."""
    import torch

    batch, length, _ = hidden_states.size()

    def heads(x: Any) -> Any:
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    q, k, v = heads(self.q_proj(hidden_states)), heads(self.k_proj(hidden_states)), heads(self.v_proj(hidden_states))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=attention_mask, scale=self.scale)
    return self.out_proj(out.transpose(1, 2).reshape(batch, length, self.embed_dim)), None


@contextlib.contextmanager
def sdpa_vision(model: Any, enabled: bool = True, compiled: bool = False) -> Iterator[None]:
    """While active, the vision tower's eager attention layers run through SDPA, and with `compiled`
    each SigLIP encoder layer runs as `torch.compile` made it (see `compiled_layers`)."""
    vpm = getattr(model, "vpm", None)
    layers = [layer.self_attn for layer in vpm.encoder.layers] if enabled and vpm is not None else []
    swapped = [attn for attn in layers if type(attn).__name__ == "SiglipAttention"]
    for attn in swapped:
        attn.forward = _sdpa_forward.__get__(attn)
    encoder: Any = vpm.encoder if compiled and vpm is not None else None
    plain = list(encoder.layers) if encoder is not None else []
    if encoder is not None:
        for index, layer in enumerate(compiled_layers(vpm)):
            encoder.layers[index] = layer
    try:
        yield
    finally:
        for index, layer in enumerate(plain):
            encoder.layers[index] = layer
        for attn in swapped:
            del attn.forward


def compiled_layers(vpm: Any) -> list[Any]:
    """SigLIP's encoder layers, each wrapped by `torch.compile` once per model (kept on the tower).

    Compiling the 27 layers of MiniCPM-V-4.5's SigLIP fuses its layer norms, GELU and residual adds
    with the matrix products around them: on an H100 (bf16, 64 frames of 1,032 patches) 195 -> 160 ms.
    The first call compiles (~9 s on an H100 host), a new batch size again (torch.compile then marks
    the batch dimension dynamic). On the tiny real-code model in float32 the embeddings stay within
    1e-4 of the plain pass's; on the full-size model in bf16 each compiled layer is as close to the same
    layer in float32 as the eager bf16 layer is (H200, 2026-12-07; docs/backends.md). Over 27
    random-weight layers any change of kernel moves the final features visibly, which is why the check
    is per layer. The captioner uses it by default on a GPU (`vision_attention="auto"`).
    """
    import torch

    cached: list[Any] | None = getattr(vpm, "_vidrag_compiled_layers", None)
    if cached is None:
        cached = [torch.compile(layer) for layer in vpm.encoder.layers]
        object.__setattr__(vpm, "_vidrag_compiled_layers", cached)  # a plain attribute, not submodules
    return cached


def _to(value: Any, device: Any) -> Any:
    if isinstance(value, list):
        return [_to(v, device) for v in value]
    return value.to(device, non_blocking=True) if hasattr(value, "to") else value


def embed(model: Any, batch: Batch, chunk_frames: int = 256, vision_batch: int | None = None) -> Any:
    """Input embeddings (clips, L, hidden) with vision rows, computed `chunk_frames` frames at a time.

    `vision_batch` frames go through SigLIP at once (the remote code's `vision_batch_size`, 16).
    """
    import torch

    per_call: int = vision_batch or getattr(model.config, "vision_batch_size", None) or 16
    device = model.llm.model.embed_tokens.weight.device
    outs, start = [], 0
    while start < len(batch.layout):
        end, frames = start, 0
        while end < len(batch.layout) and (end == start or frames + batch.layout[end][0] <= chunk_frames):
            frames += batch.layout[end][0]
            end += 1
        with torch.inference_mode():
            rows = vision_rows(
                model, batch.pixel_values[start:end], batch.tgt_sizes[start:end], batch.temporal_ids[start:end],
                batch.layout[start:end], per_call,
            )  # fmt: skip
            data = {
                "input_ids": batch.input_ids[start:end].to(device),
                "image_bound": batch.image_bound[start:end],
                "vision_hidden_states": rows,
            }
            embeds, _ = model.get_vllm_embedding(data)
        outs.append(embeds)
        start = end
    return torch.cat(outs) if len(outs) > 1 else outs[0]


def vision_rows(
    model: Any,
    pixel_values: Sequence[list[Any]],
    tgt_sizes: Sequence[Any],
    temporal_ids: Sequence[list[list[int]]],
    layout: Sequence[tuple[int, int]],
    vision_batch: int,
) -> list[Any]:
    """Each conversation's vision rows (frames_i, queries, hidden), as `get_vllm_embedding` makes them.

    The same modules and order of operations as the remote code's vision loop, with two differences
    that leave each frame's features unchanged: SigLIP runs on frames of one size at a time, so that
    no frame is padded and no attention mask is needed (the remote code pads a mixed batch to its
    largest frame and masks the padding out), and the position ids of a frame size are computed once
    on the host, where the remote code builds them per frame from a mask on the GPU (`.cpu()` per
    frame: on an H200 ~2,000 syncs for 64 clips, each one draining the GPU queue). The frame sizes
    (`tgt_sizes`) stay on the host: the resampler slices its position embeddings with them per frame.

    Raises:
        BackendUnavailable: the resampler returned another row count than the groups (the remote
            code changed).
    """
    import torch

    device = model.llm.model.embed_tokens.weight.device
    dtype = model.llm.model.embed_tokens.weight.dtype
    frames = [_to(frame, device) for clip in pixel_values for frame in clip]
    sizes = torch.vstack([torch.as_tensor(s).reshape(-1, 2) for s in tgt_sizes]).type(torch.int32).cpu()
    hidden = _siglip_by_size(model.vpm, frames, sizes, vision_batch, dtype)
    groups = [group for clip in temporal_ids for group in clip]
    features = model.resampler(hidden, sizes, groups)
    counts = [(int(f), int(g)) for f, g in layout]
    if any(f != g for f, g in counts):
        features = spread_group_rows(features, counts)
    elif features.shape[0] != len(frames):
        raise BackendUnavailable(
            f"MiniCPM-V resampler returned {features.shape[0]} rows for {len(frames)} frames; "
            "the remote code differs from the one vidrag supports."
        )
    return list(torch.split(features, [f for f, _ in counts]))


def _siglip_by_size(vpm: Any, frames: list[Any], sizes: Any, vision_batch: int, dtype: Any) -> Any:
    """SigLIP's last hidden states (frames, longest patch count, hidden), zero past each frame's patches."""
    import torch

    by_size: dict[tuple[int, int], list[int]] = {}
    for index, (h, w) in enumerate(sizes.tolist()):
        by_size.setdefault((h, w), []).append(index)
    longest = max(h * w for h, w in by_size)
    out = None
    with _patched(vpm.embeddings, "forward", _embeddings_forward.__get__(vpm.embeddings)):
        for (h, w), indices in by_size.items():
            for at in range(0, len(indices), vision_batch):
                part = indices[at : at + vision_batch]
                pixels = torch.stack([frames[i] for i in part]).type(dtype)  # (B, 3, patch, h*w*patch)
                whole = torch.ones((len(part), 1, h * w), dtype=torch.bool)  # host: no per-call sync
                states = vpm(pixels, patch_attention_mask=whole, tgt_sizes=sizes[part]).last_hidden_state
                if out is None:
                    out = states.new_zeros((len(frames), longest, states.shape[-1]))
                if part == list(range(part[0], part[-1] + 1)):
                    out[part[0] : part[-1] + 1, : h * w] = states
                else:
                    out[torch.tensor(part, device=out.device), : h * w] = states
    return out


def _embeddings_forward(self: Any, pixel_values: Any, patch_attention_mask: Any, tgt_sizes: Any = None) -> Any:
    """`SiglipVisionEmbeddings.forward` for frames that all have the size `tgt_sizes[0]` and no padding."""
    patch_embeds = self.patch_embedding(pixel_values)
    embeddings = patch_embeds.flatten(2).transpose(1, 2)
    h, w = (int(v) for v in tgt_sizes[0])
    ids = _position_ids(self.num_patches_per_side, h, w, str(self.position_embedding.weight.device))
    return embeddings + self.position_embedding(ids)[None]


@functools.lru_cache(maxsize=64)
def _position_ids(per_side: int, h: int, w: int, device: str) -> Any:
    """The position ids SigLIP gives an h x w patch grid: the remote code's bucketing, in its dtypes
    (steps of 1 / int32 size, float32 boundaries)."""
    import torch

    boundaries = torch.arange(1 / per_side, 1.0, 1 / per_side)
    rows = torch.arange(0, 1 - 1e-6, float(1 / torch.tensor(h, dtype=torch.int32)))
    cols = torch.arange(0, 1 - 1e-6, float(1 / torch.tensor(w, dtype=torch.int32)))
    rows, cols = torch.bucketize(rows, boundaries, right=True), torch.bucketize(cols, boundaries, right=True)
    return (rows[:, None] * per_side + cols).flatten().to(device)


def spread_group_rows(features: Any, layout: Sequence[tuple[int, int]]) -> Any:
    """Lay resampler rows (one per group, all conversations) out by frame count per conversation.

    Conversation i's `groups_i` rows land at the start of its `frames_i`-row slot; the rest of the
    slot is zeros. Splitting the result by frame counts, as the remote code does, then gives each
    conversation its own groups first.

    Args:
        features: tensor (sum of groups, queries, dim).
        layout: (frames_i, groups_i) per conversation, in batch order.

    Raises:
        BackendUnavailable: the row count is not the sum of groups (the remote code changed).
    """
    total_groups = sum(groups for _, groups in layout)
    if features.shape[0] != total_groups or any(g > f for f, g in layout):
        raise BackendUnavailable(
            f"MiniCPM-V resampler returned {features.shape[0]} rows for groups {layout!r}; the remote "
            "code differs from the one vidrag supports. Use batch=1 (VIDRAG_CAPTIONER_BATCH=1)."
        )
    out = features.new_zeros((sum(frames for frames, _ in layout), *features.shape[1:]))
    src = dst = 0
    for frames, groups in layout:
        out[dst : dst + groups] = features[src : src + groups]
        src += groups
        dst += frames
    return out


@contextlib.contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    sentinel = object()
    before = vars(obj).get(name, sentinel)
    setattr(obj, name, value)
    try:
        yield
    finally:
        if before is sentinel:
            delattr(obj, name)
        else:
            setattr(obj, name, before)


@contextlib.contextmanager
def packed_batch_fix(model: Any, layout: Sequence[tuple[int, int]]) -> Iterator[None]:
    """While active, batched `chat` gives each packed conversation its own vision features.

    Raises:
        BackendUnavailable: (inside the block) the remote code split rows another way than expected.
    """
    layout = [(int(frames), int(groups)) for frames, groups in layout]
    if all(frames == groups for frames, groups in layout):
        yield  # one row per frame already: the remote code's split is right
        return
    resampler = model.resampler
    original_forward = resampler.forward
    original_embedding = model.get_vllm_embedding

    def forward(*args: Any, **kwargs: Any) -> Any:
        return spread_group_rows(original_forward(*args, **kwargs), layout)

    def embedding(data: Any, *args: Any, **kwargs: Any) -> Any:
        embeds, hidden = original_embedding(data, *args, **kwargs)
        seen = [len(h) for h in hidden]
        if seen != [frames for frames, _ in layout]:
            raise BackendUnavailable(
                f"MiniCPM-V remote code split vision rows as {seen}, expected frame counts "
                f"{[f for f, _ in layout]}; its batching changed. Use batch=1."
            )
        return embeds, hidden

    with _patched(resampler, "forward", forward), _patched(model, "get_vllm_embedding", embedding):
        yield


def terminators(model: Any, tokenizer: Any) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(t) for t in model.terminators]


class _StepClock:
    """A `generate` streamer that only notes when each new token arrives (no sync, no text)."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def put(self, value: Any) -> None:
        self.stamps.append(time.perf_counter())

    def end(self) -> None:
        pass


def generate_dynamic(
    model: Any,
    tokenizer: Any,
    embeds: Any,
    attention_mask: Any,
    *,
    max_new_tokens: int,
    min_new_tokens: int,
    stats: Stats,
) -> Any:
    """transformers' `generate`, called as `chat` calls it (the reference path)."""
    import torch

    clock = _StepClock()
    options = dict(CHAT_GENERATION, max_new_tokens=max_new_tokens)
    if min_new_tokens > 0:
        options["min_new_tokens"] = min_new_tokens
    started = time.perf_counter()
    with torch.inference_mode():
        out = model.llm.generate(
            inputs_embeds=embeds, attention_mask=attention_mask.to(embeds.device), pad_token_id=0,
            eos_token_id=terminators(model, tokenizer), streamer=clock, **options,
        )  # fmt: skip
    if embeds.is_cuda:
        torch.cuda.current_stream(embeds.device).synchronize()
    done = time.perf_counter()
    stamps = clock.stamps[1:]  # the first put is the (empty) prompt
    if len(stamps) >= 2:
        stats.prefill_s += stamps[0] - started
        stats.decode_s += done - stamps[0]
        stats.steps += len(stamps) - 1
    else:
        stats.prefill_s += done - started
    return out


def gqa_decode_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """SDPA for one new token per sequence without repeating keys: a KV head's query heads become rows.

    Longer queries (the prefill) go to transformers' own SDPA function unchanged.
    """
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    if query.shape[2] != 1 or groups == 1:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    batch, heads, _, dim = query.shape
    q = query.reshape(batch, key.shape[1], groups, dim)
    mask = attention_mask[:, :, :, : key.shape[-2]] if attention_mask is not None else None
    out = torch.nn.functional.scaled_dot_product_attention(q, key, value, attn_mask=mask, scale=kwargs.get("scaling"))
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


@contextlib.contextmanager
def _llm_attention(llm: Any, name: str) -> Iterator[None]:
    from transformers import AttentionInterface

    if name not in AttentionInterface._global_mapping:
        AttentionInterface.register(name, gqa_decode_attention)
    config = llm.config
    before = config._attn_implementation_internal
    config._attn_implementation_internal = name  # not the setter: it would recurse into the vision config
    try:
        yield
    finally:
        config._attn_implementation_internal = before


class _Decoder:
    """Static-cache greedy decoding; on CUDA each step is one CUDA-graph replay."""

    def __init__(self, llm: Any, embeds: Any, attention_mask: Any, max_new_tokens: int, graphs: bool) -> None:
        import torch
        from transformers import StaticCache

        self.llm, self.device = llm, embeds.device
        batch, length, _ = embeds.shape
        self.length, self.total = length, length + max_new_tokens
        self.cache = StaticCache(config=llm.config, max_cache_len=self.total)
        valid = attention_mask.to(self.device).bool()
        self.mask = torch.zeros((batch, 1, 1, self.total), dtype=torch.bool, device=self.device)
        self.mask[:, 0, 0, :length] = valid
        positions = valid.long().cumsum(-1) - 1
        self.prefill_positions = positions.masked_fill(~valid, 1)
        self.ids = torch.zeros((batch, 1), dtype=torch.long, device=self.device)
        self.positions = positions[:, -1:].clone()
        self.cache_position = torch.zeros(1, dtype=torch.long, device=self.device)
        self.use_graphs = graphs and embeds.is_cuda
        self.graph: Any = None
        self.logits: Any = None

    def prefill(self, embeds: Any) -> Any:
        import torch

        length = self.length
        causal = torch.ones((length, length), dtype=torch.bool, device=self.device).tril()
        mask = self.mask[:, :, :, :].expand(-1, -1, length, -1).clone()
        mask[:, :, :, :length] &= causal
        mask[:, :, :, :length] |= torch.eye(length, dtype=torch.bool, device=self.device)  # no empty row
        out = self.llm(
            inputs_embeds=embeds, attention_mask=mask, position_ids=self.prefill_positions,
            past_key_values=self.cache, cache_position=torch.arange(length, device=self.device),
            use_cache=True, logits_to_keep=1,
        )  # fmt: skip
        return out.logits[:, -1, :].float()

    def _forward(self) -> Any:
        return self.llm(
            input_ids=self.ids,
            attention_mask=self.mask,
            position_ids=self.positions,
            past_key_values=self.cache,
            cache_position=self.cache_position,
            use_cache=True,
        ).logits

    def step(self, tokens: Any, index: int) -> Any:
        """Feed the `index`-th new token of every sequence; return the next logits (float32)."""
        import torch

        self.ids.copy_(tokens.view(-1, 1))
        self.positions += 1
        self.cache_position.fill_(self.length + index)
        self.mask[:, :, :, self.length + index] = True
        if not self.use_graphs:
            return self._forward()[:, -1, :].float()
        if self.graph is None:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                first = self._forward()[:, -1, :].float()  # the real step, also the warm-up
            torch.cuda.current_stream().wait_stream(side)
            self.graph = torch.cuda.CUDAGraph()
            # thread_local: the vision thread may launch kernels and allocate meanwhile (other stream)
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.logits = self._forward()
            return first
        self.graph.replay()
        return self.logits[:, -1, :].float()


def generate_static(
    model: Any,
    tokenizer: Any,
    embeds: Any,
    attention_mask: Any,
    *,
    max_new_tokens: int,
    min_new_tokens: int,
    stats: Stats,
    graphs: bool = True,
    penalty: float = CHAT_GENERATION["repetition_penalty"],
) -> Any:
    """Greedy decoding equal to `generate_dynamic` (same processors, stopping and padding)."""
    import torch

    eos = torch.tensor(terminators(model, tokenizer), device=embeds.device)
    batch = embeds.shape[0]
    tokens = torch.zeros((batch, max_new_tokens), dtype=torch.long, device=embeds.device)
    finished = torch.zeros(batch, dtype=torch.bool, device=embeds.device)
    # this stream only: the next call's vision pass may be running on another (`MiniCPMCaptioner.caption`)
    sync = torch.cuda.current_stream(embeds.device).synchronize if embeds.is_cuda else (lambda: None)
    with torch.inference_mode(), _llm_attention(model.llm, GQA_ATTENTION):
        started = time.perf_counter()
        decoder = _Decoder(model.llm, embeds, attention_mask, max_new_tokens, graphs)
        logits = decoder.prefill(embeds)
        sync()
        stats.prefill_s += time.perf_counter() - started
        started, used = time.perf_counter(), 0
        for index in range(max_new_tokens):
            scores = logits
            if index and penalty != 1.0:
                seen = tokens[:, :index]
                picked = scores.gather(1, seen)
                scores = scores.scatter(1, seen, torch.where(picked < 0, picked * penalty, picked / penalty))
            if index < min_new_tokens:
                scores[:, eos] = -math.inf
            chosen = torch.where(finished, 0, scores.argmax(-1))
            tokens[:, index] = chosen
            finished |= torch.isin(chosen, eos)
            used = index + 1
            if index == max_new_tokens - 1 or bool(finished.all()):
                break
            logits = decoder.step(chosen, index)
        sync()
        stats.decode_s += time.perf_counter() - started
        stats.steps += max(used - 1, 0)
        stats.extra["cuda_graphs"] = decoder.use_graphs
    return tokens[:, :used]


def kv_bytes_per_token(config: Any) -> int:
    """Bytes of KV cache one token takes across all LLM layers (bf16)."""
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    return config.num_hidden_layers * config.num_key_value_heads * head_dim * KV_BYTES_PER_TOKEN_LAYER


def clips_per_call(free_bytes: int, tokens_per_clip: int, config: Any, *, low: int = 1, high: int = 64) -> int:
    """How many clips one call can take in `free_bytes` of GPU memory (half of it, to leave room).

    Per clip: its KV cache, plus ~3x that for the prefill's transient activations (MLP, repeated
    keys) — measured peaks at 16 and 48 clips fit this with margin.
    """
    per_clip = 4 * tokens_per_clip * kv_bytes_per_token(config)
    return max(low, min(high, int(0.5 * free_bytes // max(per_clip, 1))))
