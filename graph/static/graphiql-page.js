// Starts GraphiQL on the gateway's own page. It is a file rather than an inline script so the page's
// Content-Security-Policy can allow scripts from 'self' only; the page hands its settings over as JSON.
(function () {
  "use strict";
  var settings = JSON.parse(document.getElementById("graphiql-settings").textContent);
  var explorer = GraphiQLPluginExplorer.explorerPlugin({ showAttribution: false });
  var fetcher = GraphiQL.createFetcher({ url: settings.endpoint });

  function Page() {
    // the query builder starts open: it is the quickest way to see what the graph holds
    var shown = React.useState(explorer);
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      visiblePlugin: shown[0],
      onTogglePluginVisibility: shown[1],
      defaultQuery: settings.query,
      headers: settings.headers || undefined,
      // tokens are not kept in the browser's storage; the headers pane is shown when it holds something
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: settings.headers ? "headers" : false,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(React.createElement(Page));
})();
