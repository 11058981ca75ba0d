"""County commands on the station: verification (`verify`), the replay record (`replay_guard`),
the desk that runs them and replies (`desk`), and config/set's trial and rollback (`config_trial`).
"""
