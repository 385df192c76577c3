"""Teams: a coordinator that runs a task through a planner, specialists and a critic."""
