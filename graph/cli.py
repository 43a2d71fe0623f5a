"""The ``gemeentegraaf`` command."""

from __future__ import annotations

import typer

app = typer.Typer(help="Gemeentegraaf: one GraphQL endpoint over a municipality's source APIs.",
                  no_args_is_help=True, add_completion=False)


@app.command()
def sources(
    scale: float = typer.Option(1.0, help="Size of the municipality; 1 is about 2,000 persons."),
    seed: int = typer.Option(1, help="Seed of the generated data; the same seed gives the same municipality."),
) -> None:
    """Run every simulated source API (ports 8101-8109) in one process."""
    from demo.runner import main

    main(seed=seed, scale=scale)


@app.command()
def demo(
    scale: float = typer.Option(1.0, help="Size of the municipality."),
    seed: int = typer.Option(1, help="Seed of the generated data."),
) -> None:
    """Run the demo municipality's sources."""
    from demo.runner import main

    main(seed=seed, scale=scale)
