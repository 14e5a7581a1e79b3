"""Evaluates a ValidatingAdmissionPolicy's variables and validations with cel-python (a CEL
implementation nobody at Sigil wrote) against an object; prints {"allowed": bool}.
Usage: python3 vap.py VAP.yaml OBJECT.json"""
import json
import sys

import celpy
import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
vap = next(d for d in docs if d["kind"] == "ValidatingAdmissionPolicy")
obj = json.load(open(sys.argv[2]))
env = celpy.Environment()
activation = {"object": celpy.json_to_cel(obj)}
variables = {}
for v in vap["spec"].get("variables", []):
    activation["variables"] = celpy.json_to_cel(variables)
    value = env.program(env.compile(v["expression"])).evaluate(activation)
    variables[v["name"]] = value
activation["variables"] = celpy.celtypes.MapType(
    {celpy.celtypes.StringType(k): val for k, val in variables.items()})
ok = all(bool(env.program(env.compile(c["expression"])).evaluate(activation))
         for c in vap["spec"]["validations"])
print(json.dumps({"allowed": ok}))
