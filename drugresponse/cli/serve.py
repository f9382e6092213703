"""``drugresponse serve``: the web app (Gradio + onnxruntime, no torch)."""

from __future__ import annotations

from pathlib import Path

from .common import add_onnx_options


def run(args) -> None:
    from drugresponse.serve.app import create, launch

    model = Path(args.model)
    app = create(model.parent, model, args.provider)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}, reachable from other machines.", flush=True)
    launch(app, args.host, args.port)


def add_command(commands) -> None:
    serve = commands.add_parser("serve", help="run the web app (Gradio + onnxruntime, no torch)",
                                description="Serve the app on loopback by default. It reads only the assets folder "
                                            "beside --model.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    serve.add_argument("--port", type=int, default=7860)
    add_onnx_options(serve)
    serve.set_defaults(func=run)
