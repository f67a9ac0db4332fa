"""Training the student: presets, data preparation and loss masking, the memory estimate, and the stage.

Modules: ``presets`` (recipe -> settings), ``training_data`` (where rows come from), ``data`` (rows -> token
ids and labels, length rules), ``memory`` (peak estimate and fit check), ``trainer`` (the stage, with TRL).
Only ``trainer`` imports torch/transformers at module level; import it lazily.
"""
