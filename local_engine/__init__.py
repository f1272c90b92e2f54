"""Tokenmill's local LLM engine (PyTorch reference path, Triton on CUDA).

Public entry points (imported from their modules, so `import local_engine` stays cheap):
- local_engine.async_engine: AsyncEngine, GenerateRequest, GenerateResult (in-process use)
- local_engine.config: EngineConfig
- local_engine.sequence: SamplingParams
- local_engine.server: build_app, run_server (OpenAI-compatible HTTP)
- local_engine.embedder: get_embedder (shared sentence embedder)
"""
