"""The two-person rule at the node's command port: approve, confirm by another, or nothing.

The autonomous-attack scenario of the library proposes its hard kill (and an RF jammer) as soon
as the drone is on its breach course; the commanders of these tests decide 100 s in, when the
hard kill can reach it. Nobody else decides: they log in through the same authority and submit
through ``NodeCore.submit``.
"""

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest

from luchtwacht.counter.authority import Authority, OperatorAccount, hash_password
from luchtwacht.model.engagement import RecommendationState
from luchtwacht.node import ApprovalStatus, Command, CommandKind, CommandResult, TwoPersonRule
from luchtwacht.node.approval import EXPIRED, SAME_PERSON, ApprovalError
from luchtwacht.node.ports import ReplayLink
from luchtwacht.pipeline import Pipeline
from luchtwacht.sim.scenario_file import load_scenario_file
from luchtwacht.site import ApprovalSection, load_site
from luchtwacht.store.recorder import Recorder
from luchtwacht.store.replay import recorded_commands, replay
from tests.store.test_replay_decisions import recorded_tasks, replayed_tasks

ROOT = Path(__file__).resolve().parents[2]
HARD_KILL = "Hard kill south"
JAMMER = "RF jammer south"


def proposed(recorder: Recorder | None = None) -> Pipeline:
    """The scenario without its duty officer, hard kill under the rule, at its first proposal."""
    scenario = load_scenario_file(ROOT / "scenarios" / "autonomous-attack-engaged.yaml")
    p = Pipeline(
        dataclasses.replace(scenario, operator=None),
        recorder=recorder,
        two_person=frozenset({"hard_kill"}),
    )
    audit = recorder.audit if recorder is not None else None
    p.authority = Authority(
        [
            OperatorAccount("alice", "commander", hash_password("pw", n=2**10)),
            OperatorAccount("bob", "commander", hash_password("pw", n=2**10)),
            OperatorAccount("olga", "operator", hash_password("pw", n=2**10)),
        ],
        audit=audit,
    )
    assert p.counter is not None
    p.counter.authority = p.authority  # the counter stage checks the same sessions
    # Proposed as soon as it is on a breach course (recommend in time), ~90 s before the hard
    # kill can reach it; the commanders of these tests decide once it is close.
    while (not p.counter.pending() or p.t_s < 100.0) and p.t_s < 130.0:
        p.run(1.0)
    (rec,) = p.counter.pending()
    assert {o.effector for o in rec.options if o.usable} >= {HARD_KILL, JAMMER}
    return p


def token(p: Pipeline, name: str) -> str:
    return p.authority.authenticate(name, "pw", p.now_s).token


def command(p: Pipeline, kind: CommandKind, who: str, effector: str = "") -> CommandResult:
    """Submit one command about the pending recommendation and run to the cycle applying it."""
    assert p.counter is not None
    (rec,) = p.counter.pending()
    result = p.submit(Command(kind, token(p, who), rec.rec_id, effector=effector))
    p.run(0.1)
    assert result.applied
    return result


def test_a_hard_kill_needs_a_second_commander_and_then_engages():
    p = proposed()
    assert p.counter is not None
    first = command(p, CommandKind.APPROVE, "alice", HARD_KILL)
    assert first.ok and first.status is ApprovalStatus.AWAITING_CONFIRMATION
    assert first.eng_id is None and not p.counter.engagements  # nothing tasked on one approval
    assert not p.counter.take_tasks()
    (held,) = p.picture(p.now_s).pending_approvals
    assert (held.effector, held.approved_by, held.effector_kind) == (
        HARD_KILL,
        "alice",
        "hard_kill",
    )
    assert held.expires_t_s == pytest.approx(held.t_s + 60.0)
    assert p.counter.pending()[0].rec_id == held.rec_id  # still pending for everyone to see

    second = command(p, CommandKind.CONFIRM, "bob")
    assert second.ok and second.status is ApprovalStatus.CONFIRMED, second.error
    assert second.approval == held and second.eng_id is not None
    eng = p.counter.engagements[second.eng_id]
    assert eng.effector.name == HARD_KILL
    assert (eng.approved_by, eng.confirmed_by) == ("alice", "bob")  # both persons named
    assert eng.approved_t_s == pytest.approx(second.t_s)
    shown = next(e for e in p.picture(p.now_s).engagements if e.eng_id == eng.eng_id)
    assert (shown.approved_by, shown.confirmed_by) == ("alice", "bob")
    assert not p.picture(p.now_s).pending_approvals and not p.approvals.held


def test_the_same_commander_cannot_confirm_their_own_approval():
    p = proposed()
    assert p.counter is not None
    assert command(p, CommandKind.APPROVE, "alice", HARD_KILL).ok
    again = command(p, CommandKind.CONFIRM, "alice")
    assert not again.ok and again.error == SAME_PERSON
    twice = command(p, CommandKind.APPROVE, "alice", HARD_KILL)  # approving again is no way round
    assert not twice.ok and "already awaits a second approval" in twice.error
    olga = command(p, CommandKind.CONFIRM, "olga")  # an operator may not authorise force
    assert not olga.ok and "may not approve_engagement" in olga.error
    assert not p.counter.engagements and len(p.picture(p.now_s).pending_approvals) == 1


def test_a_confirmation_after_the_window_is_refused_and_a_new_approval_starts_over():
    p = proposed()
    p.approvals = TwoPersonRule(frozenset({"hard_kill"}), window_s=2.0)
    assert p.counter is not None
    assert command(p, CommandKind.APPROVE, "alice", HARD_KILL).ok
    p.run(2.5)
    assert not p.picture(p.now_s).pending_approvals  # lapsed: no longer offered
    late = command(p, CommandKind.CONFIRM, "bob")
    assert not late.ok and late.error == EXPIRED and not p.counter.engagements
    anew = command(p, CommandKind.APPROVE, "bob", HARD_KILL)
    assert anew.ok and anew.status is ApprovalStatus.AWAITING_CONFIRMATION
    done = command(p, CommandKind.CONFIRM, "alice", HARD_KILL)
    assert done.ok and done.status is ApprovalStatus.CONFIRMED, done.error


def test_a_rejection_or_the_end_of_the_recommendation_cancels_a_held_approval(tmp_path):
    rec = Recorder(tmp_path / "run.sqlite")
    p = proposed(rec)
    assert p.counter is not None
    assert command(p, CommandKind.APPROVE, "alice", HARD_KILL).ok
    no = command(p, CommandKind.REJECT, "olga")  # refusing force is open to every operator
    assert no.ok and no.approval is not None and no.approval.approved_by == "alice"
    assert not p.approvals.held
    assert not p.submit(Command(CommandKind.CONFIRM, token(p, "bob"), no.command.target)).ok
    p.run(0.1)

    while not p.counter.pending() and p.t_s < 150.0:  # the track is proposed again later
        p.run(1.0)
    (pending,) = p.counter.pending()
    assert command(p, CommandKind.APPROVE, "alice", HARD_KILL).ok
    while pending.state is RecommendationState.PENDING and p.t_s < 200.0:
        p.run(1.0)  # nobody confirms; the recommendation ends with its track
    assert pending.state is RecommendationState.EXPIRED and not p.approvals.held
    rec.commit()
    db = sqlite3.connect(rec.path)
    (row,) = db.execute("SELECT payload FROM audit WHERE kind = 'approval.cancelled'").fetchall()
    cancelled = json.loads(row[0])
    assert cancelled["rec_id"] == pending.rec_id and cancelled["approved_by"] == "alice"
    assert cancelled["reason"] == pending.reason


def test_a_kind_not_under_the_rule_engages_on_one_approval():
    p = proposed()
    assert p.counter is not None
    one = command(p, CommandKind.APPROVE, "alice", JAMMER)
    assert one.ok and one.status is ApprovalStatus.APPROVED and one.eng_id is not None
    assert p.counter.engagements[one.eng_id].effector.name == JAMMER
    assert not p.approvals.held and one.approval is None


def test_the_audit_trail_names_both_persons_and_replay_reproduces_the_engagement(tmp_path):
    path = tmp_path / "two.sqlite"
    rec = Recorder(path)
    p = proposed(rec)
    assert p.counter is not None
    (pending,) = p.counter.pending()
    # Whole seconds: a run's end is a slow cycle, which must be one the replay has too.
    approved = p.submit(Command(CommandKind.APPROVE, token(p, "alice"), pending.rec_id, HARD_KILL))
    p.run(2.0)  # the second person takes a moment
    confirmed = p.submit(Command(CommandKind.CONFIRM, token(p, "bob"), pending.rec_id, HARD_KILL))
    p.run(20.0)
    assert approved.ok and confirmed.ok, confirmed.error
    p.finish()
    rec.close()

    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT kind, payload FROM audit WHERE kind LIKE 'command.%' ORDER BY seq"
    ).fetchall()
    db.close()
    (approve,) = [json.loads(r) for k, r in rows if k == "command.approve"]
    (confirm,) = [json.loads(r) for k, r in rows if k == "command.confirm"]
    assert approve["operator"] == "alice" and approve["status"] == "awaiting confirmation"
    assert approve["approval"]["approved_by"] == "alice" and "eng_id" not in approve
    assert confirm["operator"] == "bob" and confirm["role"] == "commander"
    assert confirm["approval"]["approved_by"] == "alice" and confirm["status"] == "confirmed"
    assert confirm["eng_id"] == confirmed.eng_id and confirm["effector"] == HARD_KILL
    assert [c.kind for c in recorded_commands(path)] == [CommandKind.APPROVE, CommandKind.CONFIRM]

    links: dict[str, ReplayLink] = {}
    again = replay(path, links=links)
    assert again.counter is not None
    assert again.approvals.kinds == {"hard_kill"}  # read back from the recording
    original = p.counter.summary(p.start_s)
    assert again.counter.summary(again.start_s) == original
    (eng,) = again.counter.engagements.values()
    assert eng.effector.name == HARD_KILL
    assert (eng.approved_by, eng.confirmed_by) == ("alice", "bob")
    assert eng.eng_id == confirmed.eng_id and eng.approved_t_s == confirmed.t_s
    assert replayed_tasks(links) == sorted(recorded_tasks(path), key=lambda x: x[0])


def test_the_rule_is_checked_and_the_site_file_sets_it():
    rule = TwoPersonRule()
    assert rule.kinds == {"hard_kill"} and rule.window_s == 60.0
    with pytest.raises(ValueError, match="unknown effector kind"):
        TwoPersonRule(frozenset({"laser"}))
    with pytest.raises(ValueError, match="positive"):
        TwoPersonRule(window_s=float("inf"))
    rule.hold(1, 7, "hk", "hard_kill", "Anna", 0.0)
    with pytest.raises(ApprovalError, match="another person"):
        rule.confirmable(1, "", "anna", 1.0)  # one person, two spellings of the account
    with pytest.raises(ApprovalError, match="awaits confirmation of hk, not net"):
        rule.confirmable(1, "net", "bob", 1.0)
    assert rule.confirmable(1, "hk", "bob", 60.0).approved_by == "Anna"
    assert rule.sweep({2}) and not rule.held

    example = load_site(ROOT / "examples" / "site-ehvk.yaml")
    assert example.approval == ApprovalSection()  # the default: hard kill only, 60 s
    section = ApprovalSection.model_validate(
        {"two_person": ["hard_kill", "interceptor"], "confirm_window_s": 30}
    )
    assert section.two_person == {"hard_kill", "interceptor"}
    with pytest.raises(ValueError, match="two_person"):
        ApprovalSection.model_validate({"two_person": ["laser"]})
    with pytest.raises(ValueError, match="confirm_window_s"):
        ApprovalSection.model_validate({"confirm_window_s": 0})
