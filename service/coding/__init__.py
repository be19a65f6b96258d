"""Studies and their research material: members, participants, transcripts, coders,
coding passes and coded segments."""
