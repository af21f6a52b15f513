"""Markdown words and exercises of each solution notebook, before (8bfc512) and now. Run from the checkout."""
import json, subprocess
L=["01_bi_encoder","02_faiss","03_twin_tower","04_cross_encoder","05_asymmetry","06_magnitude_cheating"]


for l in L:
    p=f"solutions/{l}/{l}.ipynb"
    old=json.loads(subprocess.run(["git","show",f"8bfc512:{p}"],capture_output=True,text=True).stdout)
    new=json.load(open(p))
    w=lambda nb: sum(len("".join(c["source"]).split()) for c in nb["cells"] if c["cell_type"]=="markdown")
    ex=lambda nb: [(c["metadata"]["nbgrader"]["grade_id"], nb["cells"][i+1]["metadata"]["nbgrader"].get("points")) for i,c in enumerate(nb["cells"]) if c["metadata"].get("nbgrader",{}).get("solution")]
    print(l, "words", w(old), "->", w(new), "| before", ex(old), "| after", ex(new))
