"""Model container formats read by our own code: GGUF (llama.cpp's single-file format).

The readers here know the container (headers, metadata, where each tensor's bytes are) and nothing about
what the bytes mean: tokenizers read the metadata, the model loaders dequantize the tensors.
"""
