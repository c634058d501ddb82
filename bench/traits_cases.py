"""The conversations of the traits workload, with what the user really said (hand-written gold).

Each conversation is a few turns with fixed assistant replies. `stated` are traits the user
states (recall counts them); `allowed` are other things the user's words support (storing them is
not an invention, recall ignores them); `traps` are things a memory must not store about the
user: what the assistant suggested or assumed, what others like, hypotheticals, questions, and
the positive form of a negation. Patterns are lower-case regular expressions matched against a
stored value. A `negated` fact is supported only by a value that says the negation
("dislikes Java"). The `value` and `quote` of each fact are what the inventing stand-in model
returns for it (traps quote the assistant or the user's trap sentence).

The demo is the quick start of `memwise demo`, with the replies the local model gave there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["stated", "allowed", "trap"]


@dataclass(frozen=True)
class Fact:
    turn: int
    kind: Kind
    field: str  # UserTraits field the inventing stand-in files it under
    value: str
    quote: str
    pattern: str
    negated: bool = False


@dataclass(frozen=True)
class Conversation:
    name: str
    turns: tuple[tuple[str, str], ...]  # (user, assistant)
    facts: tuple[Fact, ...] = field(default_factory=tuple)

    def of(self, kind: Kind) -> list[Fact]:
        return [f for f in self.facts if f.kind == kind]


def _c(name: str, turns: list[tuple[str, str]], *facts: Fact) -> Conversation:
    return Conversation(name, tuple(turns), tuple(facts))


S, A, T = "stated", "allowed", "trap"

DEMO = _c(
    "demo",
    [("My name is Alice and I'm a Python developer", "Hello Alice! It's great to meet you! How can I assist you today?"),
     ("What's my name and expertise?", "Your name is Alice, and your expertise is Python.")],
    Fact(0, S, "name", "Alice", "My name is Alice", r"\balice\b"),
    Fact(0, S, "expertise", "Python", "I'm a Python developer", r"python|develop"),
)

CONVERSATIONS: tuple[Conversation, ...] = (
    _c("plain facts",
       [("Hi, I'm Bob. I work as a data engineer in Berlin.", "Nice to meet you, Bob! How can I help?"),
        ("I mostly write Scala and SQL.", "Great choices for data pipelines.")],
       Fact(0, S, "name", "Bob", "I'm Bob", r"\bbob\b"),
       Fact(0, S, "occupation", "data engineer", "I work as a data engineer", r"data|engineer"),
       Fact(0, S, "location", "Berlin", "in Berlin", r"berlin"),
       Fact(1, S, "expertise", "Scala", "I mostly write Scala and SQL", r"scala"),
       Fact(1, S, "expertise", "SQL", "I mostly write Scala and SQL", r"\bsql\b")),
    _c("assistant suggests languages",
       [("Which language should I pick for a CLI tool?", "I'd suggest Go or Rust; both produce single binaries."),
        ("I'm a Python developer, so maybe Python is fine.", "Python works too, with Typer or Click.")],
       Fact(1, S, "expertise", "Python", "I'm a Python developer", r"python|develop"),
       Fact(0, A, "goals", "CLI tool", "pick for a CLI tool", r"\bcli\b|tool"),
       Fact(0, T, "expertise", "Rust", "I'd suggest Go or Rust", r"\bgo\b|rust"),
       Fact(1, T, "interests", "Typer", "Python works too, with Typer or Click", r"typer|click")),
    _c("wife's hobby",
       [("What does my wife like for her birthday? She loves gardening.", "Gardening tools or a rare plant would be lovely gifts."),
        ("I'm more into chess myself.", "Chess is a great hobby!")],
       Fact(1, S, "interests", "chess", "I'm more into chess myself", r"chess"),
       Fact(0, A, "goals", "birthday gift for wife", "What does my wife like for her birthday", r"birthday|gift|wife"),
       Fact(0, T, "interests", "gardening", "She loves gardening", r"garden|plant")),
    _c("negation",
       [("I don't like Java at all.", "Understood, I'll avoid Java examples."),
        ("I prefer Kotlin for Android work.", "Kotlin is a good fit.")],
       Fact(0, S, "preferences", "dislikes Java", "I don't like Java at all", r"java", negated=True),
       Fact(1, S, "preferences", "Kotlin", "I prefer Kotlin", r"kotlin"),
       Fact(1, A, "occupation", "Android work", "Kotlin for Android work", r"android"),
       Fact(0, T, "expertise", "Java", "I don't like Java at all", r"java")),
    _c("hypothetical",
       [("If I were a manager, I'd want weekly reports.", "Weekly reports help managers track progress."),
        ("Anyway, I'm a junior QA tester right now.", "Good to know!")],
       Fact(1, S, "occupation", "junior QA tester", "I'm a junior QA tester", r"\bqa\b|tester|test"),
       Fact(0, T, "occupation", "manager", "If I were a manager", r"manag"),
       Fact(0, T, "preferences", "weekly reports", "I'd want weekly reports", r"weekly|report")),
    _c("answer style",
       [("Please keep your answers short, I read on my phone.", "Will do."),
        ("My name is Chen.", "Hi Chen!")],
       Fact(0, S, "communication_style", "short answers", "Please keep your answers short", r"short|brief|concise"),
       Fact(1, S, "name", "Chen", "My name is Chen", r"\bchen\b"),
       Fact(0, A, "preferences", "reads on phone", "I read on my phone", r"phone|read")),
    _c("assistant assumes",
       [("Can you help me plan a weekend trip?", "Sure! Since you love hiking, the Alps would be perfect."),
        ("I live in Munich, so somewhere close please.", "Then the Bavarian Alps are close by.")],
       Fact(1, S, "location", "Munich", "I live in Munich", r"munich"),
       Fact(0, A, "goals", "plan a weekend trip", "help me plan a weekend trip", r"trip|weekend|plan"),
       Fact(1, A, "preferences", "somewhere close", "somewhere close please", r"close|near"),
       Fact(0, T, "interests", "hiking", "Since you love hiking", r"hik|alps|bavaria")),
    _c("goal and suggestions",
       [("I want to become a machine learning engineer.", "Great goal! Start with linear algebra and Python."),
        ("I already know Python.", "Then move to scikit-learn and PyTorch.")],
       Fact(0, S, "goals", "become a machine learning engineer", "I want to become a machine learning engineer",
            r"machine learning|\bml\b"),
       Fact(1, S, "expertise", "Python", "I already know Python", r"python"),
       Fact(0, A, "occupation", "engineer", "machine learning engineer", r"engineer"),
       Fact(0, T, "interests", "linear algebra", "Start with linear algebra and Python", r"algebra"),
       Fact(1, T, "expertise", "PyTorch", "Then move to scikit-learn and PyTorch", r"torch|scikit")),
    _c("question about a topic",
       [("Is Rust faster than C++?", "Often comparable; Rust avoids many memory bugs."),
        ("Thanks. I'm Dana, by the way.", "Nice to meet you, Dana.")],
       Fact(1, S, "name", "Dana", "I'm Dana", r"\bdana\b"),
       Fact(0, T, "expertise", "Rust", "Is Rust faster than C++?", r"rust|c\+\+")),
    _c("friend's skills",
       [("My friend Tom is a great Haskell programmer.", "Haskell is a powerful language."),
        ("I'm just starting with JavaScript myself.", "JavaScript is a good start.")],
       Fact(1, S, "expertise", "JavaScript", "I'm just starting with JavaScript", r"javascript|\bjs\b"),
       Fact(1, A, "goals", "starting out", "just starting with JavaScript", r"start|beginner|learn"),
       Fact(0, T, "expertise", "Haskell", "My friend Tom is a great Haskell programmer", r"haskell|\btom\b")),
    _c("not from London",
       [("I'm not from London, I live in Leeds.", "Leeds is a lovely city.")],
       Fact(0, S, "location", "Leeds", "I live in Leeds", r"leeds"),
       Fact(0, A, "location", "not from London", "I'm not from London", r"london", negated=True),
       Fact(0, T, "location", "London", "I'm not from London", r"london")),
    _c("editor preferences",
       [("I like dark mode and vim keybindings.", "Most editors support both.")],
       Fact(0, S, "preferences", "dark mode", "I like dark mode and vim keybindings", r"dark"),
       Fact(0, S, "preferences", "vim keybindings", "I like dark mode and vim keybindings", r"\bvim\b")),
    _c("suggestion rejected",
       [("What editor should I use?", "VS Code is popular; you might like it."),
        ("I tried VS Code and didn't like it. I use Emacs.", "Emacs is very powerful.")],
       Fact(1, S, "preferences", "Emacs", "I use Emacs", r"emacs"),
       Fact(1, A, "preferences", "dislikes VS Code", "I tried VS Code and didn't like it", r"vs ?code", negated=True),
       Fact(0, T, "preferences", "VS Code", "VS Code is popular; you might like it", r"vs ?code")),
    _c("hypothetical move",
       [("Suppose I moved to Japan, would I need a visa?", "Yes, most nationalities need a work visa."),
        ("I'm a nurse.", "Thanks for telling me.")],
       Fact(1, S, "occupation", "nurse", "I'm a nurse", r"nurs"),
       Fact(0, T, "location", "Japan", "Suppose I moved to Japan", r"japan|visa")),
    _c("manager's tool",
       [("My manager insists on Jira, but I prefer Linear.", "Linear is fast and clean.")],
       Fact(0, S, "preferences", "Linear", "I prefer Linear", r"linear"),
       Fact(0, T, "preferences", "Jira", "My manager insists on Jira", r"jira")),
    _c("name and hobby",
       [("Call me Sam. I love baking sourdough on weekends.", "Sourdough is rewarding!")],
       Fact(0, S, "name", "Sam", "Call me Sam", r"\bsam\b"),
       Fact(0, S, "interests", "baking sourdough", "I love baking sourdough", r"bak|sourdough")),
    _c("answers the assistant's question",
       [("Can you format this code for me?", "Sure. Do you prefer tabs or spaces?"),
        ("Spaces, four of them.", "Done, with four spaces.")],
       Fact(1, S, "preferences", "four spaces", "Spaces, four of them", r"space"),
       Fact(0, T, "preferences", "tabs", "Do you prefer tabs or spaces?", r"\btab")),
    _c("diet",
       [("I'm vegetarian, any dinner ideas?", "Try a chickpea curry or a mushroom risotto.")],
       Fact(0, S, "preferences", "vegetarian", "I'm vegetarian", r"vegetarian"),
       Fact(0, T, "preferences", "chickpea curry", "Try a chickpea curry or a mushroom risotto", r"chickpea|curry|mushroom|risotto")),
    _c("brother's city",
       [("My brother lives in Toronto and codes in Go.", "Toronto has a big tech scene."),
        ("I'm in Vancouver, I do frontend work with React.", "React is widely used there.")],
       Fact(1, S, "location", "Vancouver", "I'm in Vancouver", r"vancouver"),
       Fact(1, S, "expertise", "React", "I do frontend work with React", r"react"),
       Fact(1, A, "occupation", "frontend work", "I do frontend work", r"front"),
       Fact(0, T, "location", "Toronto", "My brother lives in Toronto", r"toronto"),
       Fact(0, T, "expertise", "Go", "codes in Go", r"\bgo\b")),
    _c("stopped using",
       [("I stopped using Windows years ago; I'm on Linux now.", "Linux is great for development.")],
       Fact(0, S, "preferences", "Linux", "I'm on Linux now", r"linux"),
       Fact(0, A, "preferences", "stopped using Windows", "I stopped using Windows", r"windows", negated=True),
       Fact(0, T, "preferences", "Windows", "I stopped using Windows years ago", r"windows")),
    _c("assistant's guess about the job",
       [("How do I center a div?", "Use flexbox. As a web designer you probably know CSS grid too."),
        ("I'm actually a backend developer who writes Go.", "Then flexbox is all you need here.")],
       Fact(1, S, "occupation", "backend developer", "I'm actually a backend developer", r"backend|develop"),
       Fact(1, S, "expertise", "Go", "a backend developer who writes Go", r"\bgo\b"),
       Fact(0, T, "occupation", "web designer", "As a web designer you probably know CSS grid", r"design|css|grid|flexbox")),
)

#: What the inventing stand-in adds on every conversation's first turn, whatever was said: the
#: kind of traits the local model stored in `memwise demo` (unsupported by the user's words).
INVENTED = (
    ("goals", "career growth", "I want career growth"),
    ("goals", "technical skills development", "technical skills development"),
    ("preferences", "efficient, organized, detail-oriented", "I like to be efficient and organized"),
    ("interests", "technology", "technology"),
    ("communication_style", "friendly and detailed", "friendly and detailed"),
)


@dataclass(frozen=True)
class SummaryCase:
    """A conversation for the summary: `user_facts` are patterns for what the user said (the
    summary should keep them); `assistant_only` for what only the assistant said (a summary
    statement holding one must say the assistant said it)."""

    name: str
    turns: tuple[tuple[str, str], ...]
    user_facts: tuple[str, ...] = ()
    assistant_only: tuple[str, ...] = ()


SUMMARIES: tuple[SummaryCase, ...] = (
    SummaryCase("Falcon (seed)", (
        ("My name is Alice and I work on project Falcon", "Nice to meet you, Alice! How is project Falcon going?"),
        ("What project am I working on?", "You are working on the Falcon project.")),
        (r"alice", r"falcon")),
    SummaryCase("database suggestion", (
        ("I need a database for a small side project.", "I suggest PostgreSQL; it is reliable and free."),
        ("Thanks, I'll think about it.", "Sure. SQLite is also fine for something small.")),
        (r"database|side project",), (r"postgres", r"sqlite")),
    SummaryCase("assumed hobby", (
        ("Can you help me plan a trip?", "Of course! Since you love hiking, how about the Alps?"),
        ("Sounds fine.", "Great, I'll put together a plan for the Alps.")),
        (r"trip",), (r"hik", r"alps")),
    SummaryCase("learning tips", (
        ("I'm learning Spanish.", "Great! You could try Duolingo and watch films in Spanish."),
        ("Thanks.", "You're welcome. Practising daily helps most.")),
        (r"spanish",), (r"duolingo", r"film", r"daily")),
)
