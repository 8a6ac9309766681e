"""Information-theoretic primitives on discrete distributions, in bits."""

from pidengine.info.measures import conditional_mutual_information, entropy, mutual_information

__all__ = ["conditional_mutual_information", "entropy", "mutual_information"]
