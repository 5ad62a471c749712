"""Spam for the tests of spam scoring (YU-1.3.2-g).

GTUBE is SpamAssassin's standard test string: any message that carries it scores 1,000, so a
test can send spam without sending spam.
"""

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
