"""nbgrader settings for the course: solutions/ is the source, lessons/ the student release."""
c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
c.CourseDirectory.assignment_id = ""

# Lessons encode a corpus and train small models: give a cell more than nbgrader's 30 s.
c.Execute.timeout = 900

# Stubs the learner replaces; the graders look for it to award zero.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A submission whose kernel dies (os._exit in an answer, a crash) is graded, not dropped: the cell where it died
# and every cell after it fail with a message that says so, and the other students are graded as usual.
from asymkit.tools.execute import autograde_preprocessors  # noqa: E402

c.Autograde.autograde_preprocessors = autograde_preprocessors()
