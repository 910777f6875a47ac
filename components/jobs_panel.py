"""Run on HF Jobs: plan with the price per flavor, submit on the right account, then follow the job live.

Thin handlers over training.publish.jobs (plan, submit, status, logs, cancel) and training.hosting.jobs_account
(who pays, with which token). The Space's GPU stays the owner's; a Job runs on an account: the Space's token for
the owner's side, a signed-in visitor's own OAuth token (scopes `jobs` and `contribute-repos`) for everyone else.
While a job runs, a timer refreshes its status and log tail, and its curves show in the embedded Trackio
dashboard, where the job logs through Trackio's server_url with the dashboard's write token (a Jobs secret).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

import gradio as gr

from components.access import identity
from components.card_table import render_table
from components.gguf_panel import TYPE_CHOICES
from components.run_panels import dashboard_url
from components.translations import t, tr, translate_message, use_request_language
from training.run.manager import get_run_manager

JOB_HEADERS = ["Job id", "Flavor", "Status", "Billed to", "Weights repo", "Estimate", "Submitted"]
FOLLOW_EVERY_S = 5.0
JOBS_NOTE = ("The job runs the exported script, streams its curves into this page's dashboard and pushes the weights to "
             "a private repo. On a public Space, visitors who sign in run it on **their own** Hugging Face account and "
             "namespace; the Space's GPU and token stay the owner's.")
GGUF_JOB_INFO = ("After training, the same job builds llama.cpp and pushes these files with an Ollama Modelfile to "
                 "REPO-GGUF. None ticked: weights only.")


@dataclass
class JobsPanel:
    flavor: gr.Dropdown
    hub_model_id: gr.Textbox
    trackio_space: gr.Textbox
    gguf_types: gr.CheckboxGroup
    plan: gr.Button
    plan_view: gr.Markdown
    submit: gr.Button
    jobs_table: gr.HTML
    job_id: gr.Dropdown
    job_refresh: gr.Button
    job_logs: gr.Button
    job_cancel: gr.Button
    job_message: gr.Markdown
    logs_view: gr.Code
    curves: gr.HTML
    follow: gr.Timer
    shown: gr.State


def _who(profile: gr.OAuthProfile | None) -> tuple[str | None, list[str], bool]:
    from training.hosting.access import AccessPolicy

    username, orgs = identity(profile)
    return username, orgs, AccessPolicy.from_env().refusal(username, orgs) is None


def visible_jobs(profile: gr.OAuthProfile | None) -> list[dict]:
    """The stored jobs this user may see: all of them for the owner's side, their own for a visitor."""
    from training.hosting.jobs_account import may_follow
    from training.publish.jobs import stored_jobs

    username, _orgs, may_use_space = _who(profile)
    return [j for j in stored_jobs() if may_follow(j, username, may_use_space)]


def job_rows(profile: gr.OAuthProfile | None = None) -> tuple[str, list[str]]:
    """The jobs this user may see as a table (components/card_table.py, headers in the request's language), and
    their ids."""
    from training.hosting.jobs_account import SPACE_ACCOUNT

    jobs = visible_jobs(profile)
    rows = [[j.get("job_id"), j.get("flavor"), j.get("status"),
             tr("this Space") if (j.get("billed_to") or SPACE_ACCOUNT) == SPACE_ACCOUNT else j.get("billed_to"),
             j.get("hub_model_id"), j.get("estimate"), (j.get("submitted_at") or "")[:19]] for j in jobs]
    table = render_table([tr(h) for h in JOB_HEADERS], rows, table_id="jobs-list", empty=tr("No jobs yet."))
    return table, [j.get("job_id") for j in jobs]


def create_jobs_panel() -> JobsPanel:
    from training.estimate.hardware import CATALOGUE
    from training.publish.jobs import NEEDS_NETWORK

    gr.Markdown("ℹ️ " + t(NEEDS_NETWORK) + " " + t(JOBS_NOTE))
    with gr.Row():
        gpu = [name for name, f in CATALOGUE.items() if f.is_gpu]
        flavor = gr.Dropdown(gpu, value="a10g-small" if "a10g-small" in gpu else gpu[0], label=t("Flavor"))
        hub_model_id = gr.Textbox(label=t("Push the weights to (repo id)"), placeholder=t("your-username/my-model"))
        trackio_space = gr.Textbox(label=t("Trackio Space for live metrics (only when this app is not on a Space)"),
                                   placeholder=t("your-username/trackio"))
    gguf_types = gr.CheckboxGroup(TYPE_CHOICES, value=[], label=t("Also export GGUF in the job (for Ollama and llama.cpp)"),
                                  info=t(GGUF_JOB_INFO), elem_id="job-gguf-types")
    with gr.Row():
        plan = gr.Button(t("Show price, estimate and command"), elem_id="plan-job-btn")
        submit = gr.Button(t("Submit the job"), variant="primary", elem_id="submit-job-btn")
    plan_view = gr.Markdown(elem_id="plan-view")
    table, job_ids = job_rows()
    jobs_table = gr.HTML(table, elem_id="jobs-table")
    with gr.Row():
        job_id = gr.Dropdown(job_ids, value=job_ids[0] if job_ids else None, label=t("Job"), scale=3, elem_id="job-id")
        job_refresh = gr.Button(t("Status"), elem_id="job-status-btn")
        job_logs = gr.Button(t("Logs"), elem_id="job-logs-btn")
        job_cancel = gr.Button(t("Cancel job"), variant="stop", elem_id="job-cancel-btn")
    job_message = gr.Markdown(elem_id="job-message")
    logs_view = gr.Code(label=t("Log tail"), language=None, visible=False, elem_id="job-logs")
    curves = gr.HTML(elem_id="job-curves")
    follow = gr.Timer(FOLLOW_EVERY_S, active=False)
    shown = gr.State(None)
    return JobsPanel(flavor, hub_model_id, trackio_space, gguf_types, plan, plan_view, submit, jobs_table, job_id, job_refresh,
                     job_logs, job_cancel, job_message, logs_view, curves, follow, shown)


def _config(run_id: str | None, profile: gr.OAuthProfile | None):
    """The run's config, if this user may send what it reads to a job: a visitor's job may not carry a dataset file or
    model folder from this server (the job would upload it to their account), only `demo` and Hub ids."""
    from components.access import reading_for
    from components.config_mapping import check_reads
    from training.config.schema import RunConfig, read_names

    record = get_run_manager().run_record(run_id) if run_id else None
    if record is None:
        raise ValueError("Pick a run first: its config is what the job trains.")
    config = RunConfig.from_dict(record["config"])
    with reading_for(profile):
        check_reads(read_names(config))
    return config


def _account(profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None, hub_model_id: str | None):
    from training.hosting.access import AccessPolicy
    from training.hosting.jobs_account import jobs_account

    username, orgs = identity(profile)
    return jobs_account(AccessPolicy.from_env(), username, orgs, oauth_token.token if oauth_token else None,
                        getattr(oauth_token, "scope", None), hub_model_id)


PRICE_HEADERS = ("Flavor", "GPUs", "$/hour", "Time", "Cost", "Fits")


def price_table(prices, flavor: str, who: str) -> str:
    head = tr("**Price per flavor, billed to {who}** (per hour; time and cost for this run from the estimate):", who=who)
    lines = [head, "", "| " + " | ".join(tr(h) for h in PRICE_HEADERS) + " |", "| --- | --- | --- | --- | --- | --- |"]
    from training.estimate.quote import plain_cost, plain_duration

    for p in prices:
        mark = "**" if p.flavor == flavor else ""
        time_text = translate_message(plain_duration(p.seconds)) if p.seconds else "?"
        cost = translate_message(plain_cost(p.cost_usd)) if p.cost_usd is not None else "?"
        lines.append(f"| {mark}{p.flavor}{mark} | {p.gpus} | ${p.usd_per_hour:.2f} | {time_text} | {cost} | {tr(p.verdict)} |")
    sources = sorted({p.price_source for p in prices})
    return "\n".join(lines + ["", tr("Prices: {sources}.", sources="; ".join(translate_message(x) for x in sources))])


def _plan(run_id, flavor, hub_model_id, trackio_space, gguf_types, profile, with_prices: bool = False, preview: bool = False):
    from training.hosting.trackio_mount import report_home_url
    from training.publish.jobs import flavor_prices, plan_job

    config = _config(run_id, profile)
    prices = flavor_prices(config) if with_prices else []
    chosen = next((p for p in prices if p.flavor == flavor), None)
    kw = ({"estimate_seconds": chosen.seconds, "estimate_summary": chosen.summary or "unknown", "memory_gb": chosen.memory_gb}
          if chosen else {})
    plan = plan_job(config, flavor, hub_model_id, run_id=run_id, trackio_space_id=(trackio_space or "").strip() or None,
                    report_home=report_home_url(), preview=preview, gguf_types=",".join(gguf_types or []) or None, **kw)
    return plan, prices


def handle_plan_job(run_id: str | None, flavor: str, hub_model_id: str, trackio_space: str, gguf_types: list[str] | None = None,
                    profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None,
                    request: gr.Request = None) -> str:
    """The plan, who would pay, and the price per flavor; open to everyone (like the estimate)."""
    from training.hosting.jobs_account import JobsAccessError
    from training.publish.jobs import describe_plan

    use_request_language(request)
    try:
        plan, prices = _plan(run_id, flavor, hub_model_id, trackio_space, gguf_types, profile, with_prices=True, preview=True)
    except ValueError as exc:
        return f"⚠️ {translate_message(str(exc))}"
    try:
        account = _account(profile, oauth_token, hub_model_id)
        who = account.billed_to if account.billed_to != "space" else tr("this Space's account")
        billing = translate_message(account.billing_note)
    except JobsAccessError as exc:
        who, billing = tr("the account that submits it"), f"🔒 {translate_message(str(exc))}"
    return f"{billing}\n\n{describe_plan(plan)}\n\n{price_table(prices, flavor, who)}"


def handle_submit_job(run_id: str | None, flavor: str, hub_model_id: str, trackio_space: str, gguf_types: list[str] | None = None,
                      profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None,
                      request: gr.Request = None):
    from training.hosting.jobs_account import SPACE_ACCOUNT, expiry_warning
    from training.hosting.trackio_mount import write_token
    from training.publish.jobs import TRACKIO_TOKEN_SECRET, submit_job

    use_request_language(request)
    try:
        _config(run_id, profile)  # first: a visitor's job may not carry this server's files, whatever their account
        account = _account(profile, oauth_token, hub_model_id)
    except ValueError as exc:  # JobsAccessError, a refused name (ConfigError), no run picked
        return f"🔒 {html.escape(translate_message(str(exc)), quote=False)}", gr.skip(), gr.skip(), gr.skip()
    try:
        plan, _ = _plan(run_id, flavor, hub_model_id, trackio_space, gguf_types, profile)
        home = write_token() if TRACKIO_TOKEN_SECRET in plan.secret_names else None
        job = submit_job(plan, account.token, trackio_write_token=home, billed_to=account.billed_to,
                         submitted_by=account.username)
    except ValueError as exc:
        message = translate_message(str(exc))
        gr.Warning(message)
        return f"⚠️ {html.escape(message, quote=False)}", gr.skip(), gr.skip(), gr.skip()
    rows, ids = job_rows(profile)
    warning = (expiry_warning(getattr(oauth_token, "expires_at", None), plan.timeout_s, time.time())
               if account.billed_to != SPACE_ACCOUNT else None)
    return ("✅ " + tr("Submitted job `{job}` ({status}).", job=job["job_id"], status=job["status"]) + " "
            + translate_message(account.billing_note)
            + (f"\n\n⚠️ {warning}" if warning else ""), rows,
            gr.update(choices=ids, value=job["job_id"]), gr.Timer(active=True))


def _follow_token(job_id: str | None, profile, oauth_token) -> tuple[dict, str]:
    from training.hosting.jobs_account import JobsAccessError, follow_token, may_follow
    from training.publish.jobs import get_job

    if not job_id:
        raise JobsAccessError("Pick a job first.")
    record = get_job(job_id)
    username, _orgs, may_use_space = _who(profile)
    if not may_follow(record, username, may_use_space):
        raise JobsAccessError("This job is not yours: sign in as the account that submitted it.")
    return record, follow_token(record, username, may_use_space, oauth_token.token if oauth_token else None)


def render_curves(record: dict | None) -> str:
    if not record or not record.get("reports_home"):
        return ""
    from training.methods.registry import key_metrics

    try:
        metrics = key_metrics(record.get("method") or "sft", (record.get("config") or {}).get("method_args"))
    except (KeyError, ValueError):
        metrics = ("train/loss",)
    url = html.escape(dashboard_url(record.get("trackio_run"), metrics))
    return (f'<iframe id="job-trackio-frame" src="{url}" title="The job\'s curves (Trackio)" '
            'style="width:100%;height:480px;border:1px solid #e5e7eb;border-radius:8px"></iframe>')


def _problem(exc: Exception, icon: str = "⚠️") -> str:
    return f"{icon} {html.escape(translate_message(str(exc)), quote=False)}"


def _job_line(job_id: str, job: dict) -> str:
    return (tr("Job `{job}`: **{status}**", job=job_id, status=job["status"]) + " "
            + html.escape(translate_message(job.get("message") or ""), quote=False))


def handle_job_status(job_id: str | None, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None,
                      request: gr.Request = None):
    from training.publish.jobs import refresh_job

    use_request_language(request)
    try:
        _record, token = _follow_token(job_id, profile, oauth_token)
        job = refresh_job(job_id, token)
    except ValueError as exc:
        return _problem(exc), gr.skip(), gr.skip()
    return _job_line(job_id, job), job_rows(profile)[0], render_curves(job)


def handle_job_logs(job_id: str | None, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None,
                    request: gr.Request = None):
    from training.publish.jobs import job_logs

    use_request_language(request)
    try:
        _record, token = _follow_token(job_id, profile, oauth_token)
        text = job_logs(job_id, token)
    except ValueError as exc:
        return _problem(exc), gr.update(visible=False)
    return tr("Last lines of `{job}`.", job=job_id), gr.update(value=text, visible=True)


def handle_cancel_job(job_id: str | None, profile: gr.OAuthProfile | None, oauth_token: gr.OAuthToken | None,
                      request: gr.Request = None):
    from training.publish.jobs import cancel

    use_request_language(request)
    try:
        _record, token = _follow_token(job_id, profile, oauth_token)
        cancel(job_id, token)
    except ValueError as exc:
        return _problem(exc, "🔒") if "Pick a job" not in str(exc) else translate_message(str(exc)), gr.skip()
    return tr("Cancelled `{job}`.", job=job_id), job_rows(profile)[0]


def handle_follow(job_id: str | None, shown: str | None, profile: gr.OAuthProfile | None,
                  oauth_token: gr.OAuthToken | None, request: gr.Request = None):
    """Timer tick while a job runs: status, log tail, the table; the curves only when the job shown changes.
    Stops itself when the job has finished or cannot be followed."""
    from training.publish.jobs import is_finished, job_logs, refresh_job

    use_request_language(request)
    try:
        _record, token = _follow_token(job_id, profile, oauth_token)
        job = refresh_job(job_id, token)
        text = job_logs(job_id, token)
    except ValueError as exc:
        return _problem(exc), gr.skip(), gr.skip(), gr.skip(), shown, gr.Timer(active=False)
    curves = render_curves(job) if shown != job_id else gr.skip()
    done = is_finished(job)
    status = _job_line(job_id, job)
    return (status + (" " + tr("(finished: no longer refreshing)") if done
                      else " · " + tr("refreshed every {seconds} s", seconds=f"{FOLLOW_EVERY_S:g}")),
            gr.update(value=text, visible=True), job_rows(profile)[0], curves, job_id,
            gr.Timer(active=not done))


def handle_pick_job(job_id: str | None, profile: gr.OAuthProfile | None):
    """Choosing a job shows its curves and follows it while it has not finished."""
    from training.hosting.jobs_account import may_follow
    from training.publish.jobs import get_job, is_finished

    username, _orgs, may_use_space = _who(profile)
    try:
        record = get_job(job_id) if job_id else None
    except ValueError:
        record = None
    if record is None or not may_follow(record, username, may_use_space):
        return "", None, gr.Timer(active=False)
    return render_curves(record), job_id, gr.Timer(active=not is_finished(record))


def handle_list_jobs(profile: gr.OAuthProfile | None, request: gr.Request = None):
    use_request_language(request)
    rows, ids = job_rows(profile)
    return rows, gr.update(choices=ids, value=ids[0] if ids else None)


def wire_jobs_panel(p: JobsPanel, run: gr.Dropdown) -> None:
    job_inputs = [run, p.flavor, p.hub_model_id, p.trackio_space, p.gguf_types]
    p.plan.click(handle_plan_job, job_inputs, p.plan_view, concurrency_limit=1)
    p.submit.click(handle_submit_job, job_inputs,
                   [p.job_message, p.jobs_table, p.job_id, p.follow], concurrency_limit=1, api_visibility="private")
    p.job_refresh.click(handle_job_status, p.job_id, [p.job_message, p.jobs_table, p.curves], api_visibility="private")
    p.job_logs.click(handle_job_logs, p.job_id, [p.job_message, p.logs_view], api_visibility="private")
    p.job_cancel.click(handle_cancel_job, p.job_id, [p.job_message, p.jobs_table], api_visibility="private")
    p.job_id.change(handle_pick_job, p.job_id, [p.curves, p.shown, p.follow], queue=False, api_visibility="private")
    p.follow.tick(handle_follow, [p.job_id, p.shown], [p.job_message, p.logs_view, p.jobs_table, p.curves, p.shown, p.follow],
                  show_progress="hidden", api_visibility="private")
    root = gr.context.Context.root_block
    if root is not None:  # each visitor sees their own jobs, the owner's side all of them
        root.load(handle_list_jobs, None, [p.jobs_table, p.job_id], queue=False, api_visibility="private")
