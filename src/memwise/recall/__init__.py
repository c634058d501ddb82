"""Recall: find the stored messages that matter for a query and show them within a token budget."""

from memwise.recall.engine import Scope, ranked, recall, recall_context
from memwise.recall.recalled import Recalled

__all__ = ["Recalled", "Scope", "ranked", "recall", "recall_context"]
