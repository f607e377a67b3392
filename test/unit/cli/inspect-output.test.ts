import { inspectJson, inspectText } from '../../../src/cli/inspect-output.js';

const attrs = {
  labels: { b: '2', a: '"WestleyK <westley@sylabs.io>" & co' },
  runscript: '#!/bin/sh\n\ncat /.singularity.d/runscript.help',
  environment: { '/.singularity.d/env/91-environment.sh': 'export hello="world"', '/.singularity.d/env/90-environment.sh': '#!/bin/sh' },
  deffile: 'bootstrap: oras',
  test: '',
};

describe('inspect --json', () => {
  it("is Apptainer's: tab-indented, attributes in its order, keys sorted, empty ones left out, <>& escaped as Go does", () => {
    expect(inspectJson(attrs)).toBe(`{
\t"data": {
\t\t"attributes": {
\t\t\t"environment": {
\t\t\t\t"/.singularity.d/env/90-environment.sh": "#!/bin/sh",
\t\t\t\t"/.singularity.d/env/91-environment.sh": "export hello=\\"world\\""
\t\t\t},
\t\t\t"labels": {
\t\t\t\t"a": "\\"WestleyK \\u003cwestley@sylabs.io\\u003e\\" \\u0026 co",
\t\t\t\t"b": "2"
\t\t\t},
\t\t\t"runscript": "#!/bin/sh\\n\\ncat /.singularity.d/runscript.help",
\t\t\t"deffile": "bootstrap: oras"
\t\t}
\t},
\t"type": "container"
}
`);
    expect(JSON.parse(inspectJson(attrs)).data.attributes.labels.a).toBe(attrs.labels.a);
  });

  it('has empty attributes when nothing is found', () => {
    expect(JSON.parse(inspectJson({}))).toEqual({ data: { attributes: {} }, type: 'container' });
  });
});

describe('inspect (text)', () => {
  it("prints Apptainer's sections: scripts as they are, then environment files, then sorted labels", () => {
    expect(inspectText(attrs)).toBe(
      'bootstrap: oras\n#!/bin/sh\n\ncat /.singularity.d/runscript.help\n' +
        '=== /.singularity.d/env/90-environment.sh ===\n#!/bin/sh\n\n' +
        '=== /.singularity.d/env/91-environment.sh ===\nexport hello="world"\n\n' +
        'a: "WestleyK <westley@sylabs.io>" & co\nb: 2\n',
    );
  });
});
