"""The inference layer: logits processors and samplers first, then the engine that runs a model over many
requests (KV cache, scheduler, continuous batching, speculative decoding)."""
