"""`tuieval tag`: name a run (`production`), move or delete the name, list the names and their log.

Every RUN argument accepts a tag, so a scheduled job compares against `production` without
copying ids. Moving a tag to another run is explicit (`--move`) and logged (`--log`).
"""

from __future__ import annotations

import json

import click

from tuieval.cli import BadInput, db_option, open_store, resolve_run


@click.command("tag")
@click.argument("run_id", required=False, metavar="RUN")
@click.argument("name", required=False)
@click.option("--move", is_flag=True, help="Move NAME to RUN when it already points at another run.")
@click.option("--list", "list_tags_", is_flag=True, help="List the tags and the runs they point at.")
@click.option("--delete", "delete_name", default=None, metavar="NAME", help="Remove a tag (the run stays).")
@click.option("--log", "show_log", is_flag=True, help="Every set, move and delete, oldest first (of NAME, if given).")
@click.option("--json", "as_json", is_flag=True, help="--list / --log as JSON.")
@db_option
def tag_command(run_id: str | None, name: str | None, move: bool, list_tags_: bool, delete_name: str | None,
                show_log: bool, as_json: bool, db_path: str | None) -> None:
    """Point tag NAME at RUN (an id, a prefix, `latest` or another tag); --list, --delete NAME, --log."""
    from tuieval.store.tags import TagError, check_tag_name, delete_tag, list_tags, set_tag, tag_history

    modes = sum([list_tags_, delete_name is not None, show_log])
    if modes > 1:
        raise BadInput("--list, --delete and --log: give one of them")
    if modes == 0 and (run_id is None or name is None):
        raise BadInput("RUN NAME: both are needed (or --list, --delete NAME, --log)")
    store = open_store(db_path, must_exist=True)
    if list_tags_:
        if run_id is not None:
            raise BadInput("--list: takes no RUN or NAME")
        _print_list(list_tags(store), as_json)
        return
    if show_log:
        # `tuieval tag --log production`: the one positional given is the tag's name
        wanted = name or run_id
        _print_log(tag_history(store, wanted), as_json, wanted)
        return
    if delete_name is not None:
        try:
            was = delete_tag(store, delete_name)
        except TagError as exc:
            raise BadInput(f"--delete: {exc}") from None
        click.echo(f"deleted tag {delete_name} (it pointed at run {was})", err=True)
        return
    try:
        check_tag_name(name)
    except TagError as exc:
        raise BadInput(f"NAME: {exc}") from None
    rid = resolve_run(store, run_id, "RUN")
    try:
        previous = set_tag(store, name, rid, move=move)
    except TagError as exc:
        raise BadInput(f"NAME: {exc}") from None
    if previous is None:
        click.echo(f"tagged run {rid} as {name}", err=True)
    elif previous == rid:
        click.echo(f"tag {name} already points at run {rid}", err=True)
    else:
        click.echo(f"moved tag {name}: run {previous} -> run {rid}", err=True)
    click.echo(rid)


def _print_list(rows: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no tags yet — try: tuieval tag latest production", err=True)
        return
    click.echo(f"{'tag':<20} {'run':<22} {'suite':<20} {'model':<28} {'status':<9} {'moves':>5}  tagged")
    for r in rows:
        click.echo(f"{r['name']:<20} {r['run_id']:<22} {r['suite'][:20]:<20} {r['model'][:28]:<28} "
                   f"{r['status']:<9} {r['n_moves']:>5}  {r['tagged_at']}")


def _print_log(rows: list[dict], as_json: bool, name: str | None) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo(f"no tag changes{f' for {name}' if name else ''} yet", err=True)
        return
    for r in rows:
        if r["action"] == "set":
            what = f"set -> run {r['run_id']}"
        elif r["action"] == "move":
            what = f"moved run {r['previous_run_id']} -> run {r['run_id']}"
        else:
            what = f"deleted (was run {r['previous_run_id']})"
        click.echo(f"{r['at']}  {r['name']:<20} {what}")
