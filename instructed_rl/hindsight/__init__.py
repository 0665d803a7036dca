"""Learning without a teacher: what an episode achieved, as instructions (hindsight relabelling)."""

from instructed_rl.hindsight.relabel import (Achievement, AchievementTracker, achieved_instructions,
                                             candidate_instructions)

__all__ = ["Achievement", "AchievementTracker", "achieved_instructions", "candidate_instructions"]
