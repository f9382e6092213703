"""``drugresponse serve``: the web app (Gradio + onnxruntime, no torch)."""

from __future__ import annotations

from pathlib import Path

from drugresponse.errors import UserError

from .common import add_onnx_options


def run(args) -> None:
    from dataclasses import replace

    from drugresponse.serve.app import create, launch
    from drugresponse.serve.uploads import APP

    samples = APP.max_samples if args.max_samples is None else args.max_samples
    megabytes = APP.max_bytes / 1e6 if args.max_upload_mb is None else args.max_upload_mb
    if samples < 1 or megabytes <= 0:
        raise UserError("--max-samples must be at least 1 and --max-upload-mb positive.")
    limits = replace(APP, max_samples=samples, max_bytes=int(megabytes * 1_000_000))
    model = Path(args.model)
    app = create(model.parent, model, args.provider, limits)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host}, reachable from other machines.", flush=True)
    launch(app, args.host, args.port, limits)


def add_command(commands) -> None:
    serve = commands.add_parser("serve", help="run the web app (Gradio + onnxruntime, no torch)",
                                description="Serve the app on loopback by default. It reads only the assets folder "
                                            "beside --model.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    serve.add_argument("--port", type=int, default=7860)
    add_onnx_options(serve)
    serve.add_argument("--max-samples", type=int, default=None,
                       help="samples per uploaded file (default: the public app's 20; see SECURITY.md before raising it)")
    serve.add_argument("--max-upload-mb", type=float, default=None, help="MB per uploaded file (default 25)")
    serve.set_defaults(func=run)
